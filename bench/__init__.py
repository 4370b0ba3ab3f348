"""Benchmarks of issue 6. `python -m bench` runs them all; see bench/README.md."""
