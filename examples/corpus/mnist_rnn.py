"""pytorch/examples mnist_rnn/main.py (commit 77f55b9): an LSTM reads each 28x28 image row by row,
BatchNorm1d + Dropout2d + two Linear layers on its last output, Adadelta lr 0.1 with StepLR per
epoch, log_softmax + nll_loss. Unchanged but for the data (synthetic "digits" as in
mnist_adadelta.py instead of torchvision's MNIST download), shorter defaults (3 epochs of 640
images instead of 14 of 60,000) and `--bug`. (Upstream passes 2-D tensors to Dropout2d, which
torch warns about; kept as is.)

    python mnist_rnn.py [--bug NAME]

Bugs, as users write them:
  seq-first-lstm   nn.LSTM without batch_first=True: the (B, 28, 28) batch is read as 28 sequences
                   of length B, so every image's output depends on the other images of the batch
  no-zero-grad     optimizer.zero_grad() left out
"""

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

BUGS = ("none", "seq-first-lstm", "no-zero-grad")
BUG = "none"


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=BUG != "seq-first-lstm")
        self.batchnorm = nn.BatchNorm1d(64)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, input):
        # Shape of input is (batch_size,1, 28, 28)
        # converting shape of input to (batch_size, 28, 28)
        # as required by RNN when batch_first is set True
        input = input.reshape(-1, 28, 28)
        output, hidden = self.rnn(input)

        # RNN output shape is (seq_len, batch, input_size)
        # Get last output of RNN
        output = output[:, -1, :]
        output = self.batchnorm(output)
        output = self.dropout1(output)
        output = self.fc1(output)
        output = F.relu(output)
        output = self.dropout2(output)
        output = self.fc2(output)
        output = F.log_softmax(output, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        if BUG != "no-zero-grad":
            optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                       100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def test(args, model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
            if args.dry_run:
                break

    test_loss /= len(test_loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))


def main():
    # Training settings
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example using RNN')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=3, metavar='N',
                        help='number of epochs to train (default: 3; upstream 14)')
    parser.add_argument('--lr', type=float, default=0.1, metavar='LR',
                        help='learning rate (default: 0.1)')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                        help='learning rate step gamma (default: 0.7)')
    parser.add_argument('--accel', action='store_true',
                        help='enables accelerator')
    parser.add_argument('--dry-run', action='store_true',
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--save-model', action='store_true',
                        help='for Saving the current Model')
    parser.add_argument('--train-size', type=int, default=640,
                        help='synthetic training images (the test set has a quarter as many)')
    parser.add_argument('--bug', choices=BUGS, default='none')
    args = parser.parse_args()
    global BUG
    BUG = args.bug

    if args.accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")

    torch.manual_seed(args.seed)

    kwargs = {'num_workers': 1, 'pin_memory': True} if args.accel else {}
    # Synthetic stand-in for torchvision's MNIST (no download): one 28x28 stroke template
    # per class plus noise, as uint8 pixels, then ToTensor() and Normalize((0.1307,), (0.3081,)).
    generator = torch.Generator().manual_seed(args.seed)
    templates = (torch.rand(10, 1, 28, 28, generator=generator) > 0.85).float()

    def synthetic_mnist(n):
        labels = torch.randint(0, 10, (n,), generator=generator)
        pixels = ((templates[labels] * 0.8 + 0.3 * torch.rand(n, 1, 28, 28, generator=generator)).clamp(0, 1) * 255).round()
        return torch.utils.data.TensorDataset((pixels / 255 - 0.1307) / 0.3081, labels)

    train_loader = torch.utils.data.DataLoader(
        synthetic_mnist(args.train_size), batch_size=args.batch_size, shuffle=True, **kwargs)
    test_loader = torch.utils.data.DataLoader(
        synthetic_mnist(args.train_size // 4), batch_size=args.test_batch_size, shuffle=True, **kwargs)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(args, model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_rnn.pt")


if __name__ == '__main__':
    main()
