"""The accuracy–latency–cost frontier: one model's build swept over student sizes.

    python -m benchmarks.frontier [--models breast_cancer,digits] [--quick] [--out DIR]
    featherserve train tabular|image NAME ... --frontier [--max-accuracy-loss 0.01]

The second hands itself to ``python -m benchmarks.frontier train ...`` (``train.py``).
``points.py`` a frontier and its choice; ``sweep.py`` builds each student size with the
model's own pipeline; ``measure.py`` measures each file through the real handler in fresh
processes; ``report.py`` writes ``frontier.json``, ``frontier.md`` and ``frontier.png``;
``__main__.py`` is the entry (``make frontier``). Nothing is imported here.
"""
