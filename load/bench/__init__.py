"""Benchmarks of the load half (never tests) and the stub API they and the tests drive."""
