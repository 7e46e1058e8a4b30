"""A policy-gradient loss (log_prob of sampled actions × normalised returns) is not judged as a
loss that should fall, while densities of data (a mixture density network's log_prob of its
targets) still are; torch.distributions is left as it was."""
import torch
from torch import nn
from torch.distributions import Categorical, Normal

import nndoctor
from nndoctor.torch.watch.score_function import SURROGATE_REASON


def _reinforce(episodes=30):
    torch.manual_seed(0)
    policy = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    with nndoctor.watch(live=False) as doctor:
        for _ in range(episodes):
            log_probs, rewards = [], []
            for _ in range(20):
                m = Categorical(logits=policy(torch.randn(1, 4)))
                action = m.sample()
                log_probs.append(m.log_prob(action))
                rewards.append(float(action.item()))
            returns = torch.tensor(rewards)
            returns = (returns - returns.mean()) / (returns.std() + 1e-8)
            optimizer.zero_grad()
            torch.cat([-lp * r for lp, r in zip(log_probs, returns)]).sum().backward()
            optimizer.step()
    return doctor


def test_a_reinforce_loss_is_not_judged_as_a_falling_loss():
    doctor = _reinforce()
    assert doctor._session.score_function_log_probs == 30 * 20
    skipped = {s.rule: s.reason for s in doctor.report.checks_skipped}
    for rule in ("loss-diverging", "loss-not-decreasing", "loss-oscillating"):
        assert SURROGATE_REASON in skipped[rule]
    assert "update-ratio-high" in doctor.report.checks_run  # the parameters are still watched
    # Outside the session the distributions are torch's own again.
    assert Categorical.sample.__module__ == "torch.distributions.categorical"
    assert not hasattr(Categorical.log_prob, "__wrapped__")


def test_a_density_of_the_targets_is_still_a_loss_that_should_fall():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 2))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.randn(256, 3)
    y = x.sum(1, keepdim=True) + 0.1 * torch.randn(256, 1)
    with nndoctor.watch(live=False) as doctor:
        for _ in range(40):
            mean, log_scale = net(x).chunk(2, dim=1)
            density = Normal(mean, log_scale.exp())
            optimizer.zero_grad()
            (-density.log_prob(y).mean()).backward()
            optimizer.step()
            with torch.no_grad():
                density.sample()  # predictions drawn for a plot: not a policy
    assert doctor._session.score_function_log_probs == 0
    assert "loss-diverging" in doctor.report.checks_run
