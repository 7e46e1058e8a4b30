"""REINFORCE and actor-critic on CartPole: faithful copies of pytorch/examples
reinforcement_learning/reinforce.py and actor_critic.py.

The policy gradient loop as the example writes it: a Policy (Linear-Dropout-ReLU-Linear,
softmax output) samples actions from a Categorical during the episode, in train mode, and
`finish_episode` does one Adam step on sum(-log_prob * normalised return). gymnasium is not a
dependency here, so CartPole-v1 is the classic cart-pole physics (Barto, Sutton & Anderson
1983; the constants and termination of gymnasium's CartPoleEnv) in a few lines of numpy.

The "loss" of policy gradient is not a loss that falls: the returns are normalised to zero
mean, so it wanders around 0, often negative, and grows in magnitude as episodes lengthen.
A diagnosis must not call that diverging, oscillating or stuck. actor_critic.py adds a critic
head trained with smooth_l1_loss towards the returns, one loss call per environment step,
summed with the policy loss.

    python reinforce_cartpole.py [--algorithm reinforce|actor-critic] [--episodes N] [--bug NAME]

Bugs, as users write them:
  lr-100x        Adam at lr 1.0 (the first update saturates the policy; it never learns)
"""
import argparse
import math
from collections import deque, namedtuple
from itertools import count

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

BUGS = ("none", "lr-100x")


class CartPole:
    """CartPole-v1: push left/right, +1 per step upright, ends past 12° or 2.4 m, or at 500 steps."""

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_limit, x_limit, max_steps, reward_threshold = 12 * 2 * math.pi / 360, 2.4, 500, 475.0

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        self.state, self.steps = self.rng.uniform(-0.05, 0.05, size=4), 0
        return self.state.astype(np.float32), {}

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        total_mass, polemass_length = self.masspole + self.masscart, self.masspole * self.length
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos**2 / total_mass))
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        x, x_dot = x + self.tau * x_dot, x_dot + self.tau * x_acc
        theta, theta_dot = theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc
        self.state, self.steps = np.array([x, x_dot, theta, theta_dot]), self.steps + 1
        terminated = bool(abs(x) > self.x_limit or abs(theta) > self.theta_limit)
        return self.state.astype(np.float32), 1.0, terminated, self.steps >= self.max_steps, {}


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 128)
        self.dropout = nn.Dropout(p=0.6)
        self.affine2 = nn.Linear(128, 2)

        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


SavedAction = namedtuple('SavedAction', ['log_prob', 'value'])


class ActorCritic(nn.Module):
    """
    implements both actor and critic in one model
    """
    def __init__(self):
        super(ActorCritic, self).__init__()
        self.affine1 = nn.Linear(4, 128)
        self.action_head = nn.Linear(128, 2)
        self.value_head = nn.Linear(128, 1)
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


def main():
    parser = argparse.ArgumentParser(description='PyTorch REINFORCE example')
    parser.add_argument('--gamma', type=float, default=0.99)
    parser.add_argument('--seed', type=int, default=543)
    parser.add_argument('--episodes', type=int, default=300)
    parser.add_argument('--log-interval', type=int, default=50)
    parser.add_argument('--algorithm', choices=('reinforce', 'actor-critic'), default='reinforce')
    parser.add_argument('--bug', choices=BUGS, default='none')
    args = parser.parse_args()

    env = CartPole(args.seed)
    torch.manual_seed(args.seed)
    if args.algorithm == 'actor-critic':
        actor_critic(args, env)
        return
    policy = Policy()
    optimizer = optim.Adam(policy.parameters(), lr=1.0 if args.bug == 'lr-100x' else 1e-2)
    eps = np.finfo(np.float32).eps.item()

    def select_action(state):
        state = torch.from_numpy(state).float().unsqueeze(0)
        probs = policy(state)
        m = Categorical(probs)
        action = m.sample()
        policy.saved_log_probs.append(m.log_prob(action))
        return action.item()

    def finish_episode():
        R = 0
        policy_loss = []
        returns = deque()
        for r in policy.rewards[::-1]:
            R = r + args.gamma * R
            returns.appendleft(R)
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        for log_prob, R in zip(policy.saved_log_probs, returns):
            policy_loss.append(-log_prob * R)
        optimizer.zero_grad()
        policy_loss = torch.cat(policy_loss).sum()
        policy_loss.backward()
        optimizer.step()
        del policy.rewards[:]
        del policy.saved_log_probs[:]

    episodes(args, env, select_action, finish_episode, policy.rewards)


def episodes(args, env, select_action, finish_episode, rewards):
    running_reward = 10
    for i_episode in count(1):
        state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 10000):  # Don't infinite loop while learning
            action = select_action(state)
            state, reward, terminated, truncated, _ = env.step(action)
            rewards.append(reward)
            ep_reward += reward
            if terminated or truncated:
                break

        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        finish_episode()
        if i_episode % args.log_interval == 0:
            print(f'Episode {i_episode}\tLast reward: {ep_reward:.2f}\tAverage reward: {running_reward:.2f}')
        if running_reward > env.reward_threshold:
            print(f"Solved! Running reward is now {running_reward} and the last episode runs to {t} time steps!")
            break
        if i_episode >= args.episodes:
            break


def actor_critic(args, env):
    model = ActorCritic()
    optimizer = optim.Adam(model.parameters(), lr=3.0 if args.bug == 'lr-100x' else 3e-2)
    eps = np.finfo(np.float32).eps.item()

    def select_action(state):
        state = torch.from_numpy(state).float()
        probs, state_value = model(state)
        m = Categorical(probs)
        action = m.sample()
        model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
        return action.item()

    def finish_episode():
        R = 0
        saved_actions = model.saved_actions
        policy_losses = []  # list to save actor (policy) loss
        value_losses = []  # list to save critic (value) loss
        returns = []  # list to save the true values
        for r in model.rewards[::-1]:
            R = r + args.gamma * R
            returns.insert(0, R)
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        for (log_prob, value), R in zip(saved_actions, returns):
            advantage = R - value.item()
            policy_losses.append(-log_prob * advantage)
            value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
        optimizer.zero_grad()
        loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()
        loss.backward()
        optimizer.step()
        del model.rewards[:]
        del model.saved_actions[:]

    episodes(args, env, select_action, finish_episode, model.rewards)


if __name__ == '__main__':
    main()
