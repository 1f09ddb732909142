"""Benchmarks (`python -m bench.run`) and the load and fault harness (`python -m bench.harness`)."""
