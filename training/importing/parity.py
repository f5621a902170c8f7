"""The converted graph must agree with the original on the data sample, or nothing is
published: every label the same; probabilities within ``PROBABILITY_TOLERANCE``, values
within ``VALUE_TOLERANCE`` (absolute) plus ``VALUE_TOLERANCE`` × |value| (relative)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.common import format_table
from training.errors import ParityError

PROBABILITY_TOLERANCE = 1e-4
VALUE_TOLERANCE = 1e-4
SHOWN_ROWS = 5


@dataclass(frozen=True)
class Parity:
    rows: int
    max_gap: float
    labels_agree: int | None   # None for regression

    def summary(self) -> str:
        labels = "" if self.labels_agree is None else \
            f"same label on {self.labels_agree}/{self.rows} rows; "
        return (f"parity on {self.rows} rows of the data file: {labels}largest difference "
                f"{self.max_gap:.2e}")


def check_parity(name: str, original: npt.NDArray[np.float64], converted: npt.NDArray[np.float32],
                 frame: pd.DataFrame, regression: bool) -> Parity:
    """Raise ``ParityError`` showing the worst rows when the two disagree."""
    original = np.asarray(original, dtype=np.float64)
    converted_64 = np.asarray(converted, dtype=np.float64).reshape(original.shape)
    if regression:
        gap = np.abs(original - converted_64)
        bad = gap > VALUE_TOLERANCE + VALUE_TOLERANCE * np.abs(original)
        labels = None
        worst_gap = gap
    else:
        worst_gap = np.abs(original - converted_64).max(axis=1)
        flipped = original.argmax(axis=1) != converted_64.argmax(axis=1)
        bad = flipped | (worst_gap > PROBABILITY_TOLERANCE)
        labels = int((~flipped).sum())
    parity = Parity(rows=len(original), max_gap=float(worst_gap.max()), labels_agree=labels)
    if bad.any():
        order = np.argsort(-worst_gap - bad * 1e9)[:SHOWN_ROWS]
        table = [[str(i), _shown(original[i]), _shown(converted_64[i]), f"{worst_gap[i]:.2e}",
                  _row(frame.iloc[i])] for i in order]
        raise ParityError(
            f"{name}: not published: the converted model disagrees with the original on "
            f"{int(bad.sum())} of {len(original)} rows ({parity.summary()}; tolerance "
            f"{VALUE_TOLERANCE if regression else PROBABILITY_TOLERANCE:g}). Worst rows:\n"
            + format_table(["row", "original", "converted", "difference", "values"], table))
    return parity


def _shown(values: npt.NDArray[np.float64]) -> str:
    flat = np.atleast_1d(values)
    return ", ".join(f"{v:.4g}" for v in flat[:4]) + (" …" if len(flat) > 4 else "")


def _row(row: pd.Series) -> str:
    text = ", ".join(f"{k}={v}" for k, v in row.items())
    return text if len(text) <= 80 else text[:77] + "..."
