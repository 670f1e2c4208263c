"""Benchmarks: `python -m bench.plan` (planner) and `python -m bench.runner` (runner overhead)."""
