"""Helpers shared by unit tests, integration tests and benchmarks."""
