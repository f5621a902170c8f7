"""A user's table: a CSV file (or a bundled scikit-learn set, ``sklearn:NAME``) → features
with their kinds, the target, and the task.

Kinds: a column pandas reads as numbers is a *number*; text and true/false columns are
*categories* (values kept as the strings the CSV holds). Empty cells (and pandas' usual
"NA" spellings) are missing values. The task is classification when the target holds text,
or a few distinct whole numbers; otherwise regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.errors import DataError

Task = Literal["classification", "regression"]
BUNDLED_PREFIX = "sklearn:"
# A text column with more distinct values than this is an identifier or free text, not a
# category: one-hot encoding it would learn the rows by heart.
MAX_CATEGORIES = 100
# A whole-number target with at most this many distinct values is read as class labels.
MAX_INTEGER_CLASSES = 20


@dataclass(frozen=True)
class Table:
    name: str
    source: str                     # how lineage names it
    frame: pd.DataFrame             # features only, in file order
    target: pd.Series
    target_name: str
    numbers: tuple[str, ...]
    categories: tuple[str, ...]
    label_order: tuple[str, ...] | None = None  # a bundled set's own class order

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.frame.columns)


def read_table(data: str | Path, target: str, *, ignore: Sequence[str] = ()) -> Table:
    """Read ``data`` and split off ``target``; ``ignore`` lists columns to leave out."""
    text = str(data)
    label_order = None
    if text.startswith(BUNDLED_PREFIX):
        from training.tabular.bundled import bundled_frame

        frame, label_order, source = bundled_frame(text[len(BUNDLED_PREFIX):])
        name = text[len(BUNDLED_PREFIX):]
    else:
        path = Path(data)
        if not path.is_file():
            raise DataError(f"{path}: no such file; --data takes a CSV file")
        try:
            # A category is spelled as in the file (" Male" stays " Male"): as pandas gives
            # it to a model trained elsewhere, and as `featherserve predict` reads the file.
            frame = _spaced_numbers(pd.read_csv(path))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not a readable CSV file ({exc})") from exc
        source, name = f"{path.name} ({len(frame)} rows)", path.stem
    frame.columns = [str(c).strip() for c in frame.columns]
    if target not in frame.columns:
        raise DataError(f"{text}: no column {target!r} to predict; its columns are "
                        f"{', '.join(repr(c) for c in frame.columns)}")
    unknown = [c for c in ignore if c not in frame.columns]
    if unknown:
        raise DataError(f"--ignore names no column of {text}: {unknown}")
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if len(frame) < 10:
        raise DataError(f"{text}: {len(frame)} rows with a {target!r} value; need at least 10")
    y = frame[target]
    features = frame.drop(columns=[target, *ignore])
    if features.shape[1] == 0:
        raise DataError(f"{text}: no feature columns besides {target!r}")
    numbers, categories = _kinds(features, text)
    for column in categories:
        features[column] = _as_text(features[column])
    for column in numbers:
        features[column] = features[column].astype(np.float64)
    return Table(name=name, source=source, frame=features, target=y, target_name=target,
                 numbers=numbers, categories=categories, label_order=label_order)


def _spaced_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every non-blank cell is a number with spaces around it ("1, 2.5"
    files) as numbers; a cell of spaces only is missing, as `featherserve predict` reads it."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        text = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
        present = text.notna() & (text != "")
        if not present.any():
            frame[column] = text.where(present, None)
            continue
        if not all(isinstance(v, str) for v in text[present]):  # True/False stay text
            continue
        numbers = pd.to_numeric(text.where(present, None), errors="coerce")
        if numbers[present].notna().all():
            frame[column] = numbers.astype(np.float64)
    return frame


def infer_task(target: pd.Series) -> tuple[Task, str]:
    """The task the target suggests, and why (printed, so the user can override it)."""
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification", f"{target.name!r} holds text"
    values = target.to_numpy(dtype=np.float64)
    distinct = np.unique(values)
    if np.all(values == np.round(values)) and len(distinct) <= MAX_INTEGER_CLASSES:
        return "classification", (f"{target.name!r} holds {len(distinct)} distinct whole "
                                  "numbers")
    return "regression", f"{target.name!r} holds numbers ({len(distinct)} distinct values)"


def class_labels(target: pd.Series, order: tuple[str, ...] | None = None
                 ) -> tuple[tuple[str, ...], npt.NDArray[np.int64]]:
    """Label strings (sorted, or a bundled set's order) and each row's label index."""
    text = _as_text(target, strip=True)
    if text.isna().any():
        raise DataError("the target has missing values")
    labels = order or tuple(sorted(set(text), key=_label_sort_key(target)))
    index = {label: i for i, label in enumerate(labels)}
    return labels, np.asarray([index[v] for v in text], dtype=np.int64)


def _label_sort_key(target: pd.Series) -> Any:
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    return (lambda v: float(v)) if numeric else (lambda v: v)


def _kinds(features: pd.DataFrame, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    numbers, categories = [], []
    for column in features.columns:
        values = features[column]
        if values.isna().all():
            raise DataError(f"{where}: column {column!r} is empty; leave it out with "
                            f"--ignore {column!r}")
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers.append(str(column))
            continue
        distinct = values.dropna().nunique()
        if distinct > MAX_CATEGORIES:
            raise DataError(
                f"{where}: column {column!r} holds text with {distinct} distinct values: an "
                f"identifier or free text, not a category (at most {MAX_CATEGORIES}); leave "
                f"it out with --ignore {column!r}")
        categories.append(str(column))
    return tuple(numbers), tuple(categories)


def _as_text(values: pd.Series, *, strip: bool = False) -> pd.Series:
    """Category values as the CSV spells them (labels: ``strip``ped); missing (blank) stays
    missing (None)."""
    def text(value: Any) -> Any:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        spelled = str(value).strip() if strip else str(value)
        return spelled if spelled.strip() else None

    return values.astype(object).map(text).astype(object)
