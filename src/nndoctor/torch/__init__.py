"""PyTorch adapters: hooks, probes, interception, preflight experiments, state snapshots."""
