"""scikit-learn's bundled tables (no download) as the CSV a user would have: named columns,
text labels. ``--data sklearn:wine`` reads one directly; ``write_bundled_csv`` writes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from training.errors import DataError

# name → (loader, target column, class names or None for regression)
BUNDLED: dict[str, tuple[str, str]] = {
    "breast_cancer": ("load_breast_cancer", "diagnosis"),
    "wine": ("load_wine", "cultivar"),
    "iris": ("load_iris", "species"),
    "diabetes": ("load_diabetes", "progression"),
}


def _loader(name: str) -> Callable[..., Any]:
    import sklearn.datasets

    return getattr(sklearn.datasets, BUNDLED[name][0])  # type: ignore[no-any-return]


def bundled_frame(name: str) -> tuple[pd.DataFrame, tuple[str, ...] | None, str]:
    """The table, its class order (scikit-learn's, or None for regression), and its source."""
    if name not in BUNDLED:
        raise DataError(f"sklearn:{name}: bundled tables are {', '.join(BUNDLED)}")
    function, target = BUNDLED[name]
    # Diabetes: the unscaled measurements, as a clinic's CSV would hold them.
    extra = {"scaled": False} if name == "diabetes" else {}
    bunch = _loader(name)(**extra)
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    names = getattr(bunch, "target_names", None)
    if names is not None and len(names) and isinstance(names[0], str):
        labels = tuple(str(n) for n in names)
        frame[target] = [labels[int(i)] for i in bunch.target]
        return frame, labels, f"sklearn.datasets.{function}"
    frame[target] = bunch.target
    return frame, None, f"sklearn.datasets.{function}"


def write_bundled_csv(name: str, path: Path) -> Path:
    """Write the bundled table ``name`` as a CSV file (target column last)."""
    frame, _, _ = bundled_frame(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
