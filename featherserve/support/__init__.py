"""Helpers shared by the test suite and the benchmarks: process groups, event fixtures."""
