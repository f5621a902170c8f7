"""Order statistics for small samples (cold starts) and long ones (warm requests)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def describe(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """n, median, min, max, p90, p99, mean and spread ((max - min) / median)."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"n": 0, "median": None, "min": None, "max": None, "p90": None, "p99": None,
                "mean": None, "spread": None}
    median = percentile(present, 50)
    low, high = min(present), max(present)
    return {"n": len(present), "median": median, "min": low, "max": high,
            "p90": percentile(present, 90), "p99": percentile(present, 99),
            "mean": sum(present) / len(present),
            "spread": (high - low) / median if median else None}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator
