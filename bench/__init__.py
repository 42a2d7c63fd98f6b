"""Benchmarks: speed and usability targets, measured outside the unit tests."""
