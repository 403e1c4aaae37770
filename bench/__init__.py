"""Benchmarks: `make bench` runs them all; `python -m bench NAME...` runs some.

Machines here are shared and noisy, so every benchmark reports a ratio measured
in one run (ours against a baseline, or against real time) rather than trusting
an absolute time. Results go to bench/results/NAME.json.
"""
