"""featherserve's benchmarks: cold start, warm latency and peak memory, as ratios.

``python -m benchmarks [--quick]`` (``make bench``). Every cold-start sample is a fresh
process; every number is reported next to a baseline measured in the same run (an
interpreter importing only onnxruntime and numpy, and the naive teacher handlers).

Nothing is imported here: ``probe.py`` runs as a bare script in every sampled process.
"""
