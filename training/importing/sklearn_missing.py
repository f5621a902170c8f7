"""Missing text in a fitted scikit-learn pipeline, as the served graph receives it.

The user trained on a table whose missing text was ``NaN``, ``None`` or ``pd.NA`` (pandas
decides which); the handler sends a missing category as ``MISSING_CATEGORY`` (ONNX string
tensors have no NaN). skl2onnx's imputer on text only knows string markers, and encoders that
saw missing values hold them as a category. So the graph is converted from a copy of the
fitted pipeline in which the user's marker is ``MISSING_CATEGORY`` wherever a step reads raw
text: the imputers that replaced it match the empty string, the encoders that learned it as a
category learn the empty string instead. Every fitted statistic stays as it was, so the copy
computes on ``""`` exactly what the original computes on the user's marker; the parity check
proves it on every row.

``missing_markers`` tells, from the fitted steps, which marker the user trained with, so the
original model is shown the rows as it saw them in training.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from model_store.manifest import MISSING_CATEGORY

# What an imputer that never matched the user's marker is given: a string nobody sends.
NEVER_SENT = "\x00featherserve: no missing value\x00"
Branch = tuple[list[Any], list[str]]


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def branches(model: Any, columns: list[str]) -> Iterator[Branch]:
    """Each chain of fitted steps that reads raw columns, with the columns it reads."""
    from sklearn.compose import ColumnTransformer

    steps = flat_steps(model)
    if not steps:
        return
    first = steps[0]
    if isinstance(first, ColumnTransformer):
        names = [str(n) for n in getattr(first, "feature_names_in_", columns)]
        for _name, part, selected in first.transformers_:
            if isinstance(part, str):
                continue
            yield from branches(part, column_names(selected, names))
        return
    yield steps, columns


def flat_steps(model: Any) -> list[Any]:
    """A Pipeline's steps with nested Pipelines spliced in; anything else is one step."""
    steps = getattr(model, "steps", None)
    if steps is None:
        return [model]
    out: list[Any] = []
    for _, step in steps:
        if step is None or isinstance(step, str):
            continue
        out += flat_steps(step)
    return out


def column_names(selected: Any, names: list[str]) -> list[str]:
    if isinstance(selected, slice):
        return names[selected]
    if isinstance(selected, (str, int, np.integer)):
        selected = [selected]
    picked = list(selected)
    if picked and isinstance(picked[0], (bool, np.bool_)):
        return [n for n, keep in zip(names, picked, strict=True) if keep]
    return [names[int(c)] if isinstance(c, (int, np.integer)) else str(c) for c in picked]


def _encoder(step: Any) -> bool:
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    return isinstance(step, (OneHotEncoder, OrdinalEncoder))


def _imputer(step: Any) -> bool:
    from sklearn.impute import SimpleImputer

    return isinstance(step, SimpleImputer)


def same_marker(a: Any, b: Any) -> bool:
    if a is None or b is None or a is pd.NA or b is pd.NA:
        return a is b
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isnan(a) and np.isnan(b)) or a == b
    return bool(type(a) is type(b) and a == b)


def missing_markers(model: Any, columns: list[str], text: set[str]) -> dict[str, Any]:
    """Each text column's missing value as the user trained with it: the marker an encoder
    learned as a category (then the branch's other columns share it: one imputer treats them
    alike), else the one its imputer replaced, else pandas' NaN."""
    markers: dict[str, Any] = {}
    for steps, names in branches(model, columns):
        found = {c: _marker(steps, i) for i, c in enumerate(names) if c in text}
        learned = [m for m, from_encoder in found.values() if from_encoder]
        for column, (marker, from_encoder) in found.items():
            if column in markers:
                continue
            if learned and not from_encoder:
                marker = learned[0]
            if marker is not _NOT_FOUND:
                markers[column] = marker
    return {c: markers.get(c, np.nan) for c in columns if c in text}


_NOT_FOUND = object()


def _marker(steps: list[Any], index: int) -> tuple[Any, bool]:
    candidate: Any = _NOT_FOUND
    for step in steps:
        if _imputer(step):
            candidate = step.missing_values
            continue
        if _encoder(step):
            learned = [v for v in step.categories_[index] if is_missing(v)]
            return (learned[0], True) if learned else (candidate, False)
        break
    return candidate, False


def served_copy(model: Any, columns: list[str], text: set[str],
                markers: dict[str, Any]) -> Any:
    """A copy of the fitted model that treats ``MISSING_CATEGORY`` as the user's marker."""
    served = copy.deepcopy(model)
    for steps, names in branches(served, columns):
        pending = {i for i, c in enumerate(names) if c in text}
        if not pending:
            continue
        for step in steps:
            if _imputer(step):
                step.statistics_ = np.asarray([_as_sent(v) for v in step.statistics_],
                                              dtype=object)
                if all(same_marker(step.missing_values, markers[names[i]]) for i in pending):
                    step.missing_values = MISSING_CATEGORY
                    pending = set()
                elif not isinstance(step.missing_values, str):
                    step.missing_values = NEVER_SENT
                continue
            if _encoder(step):
                for i in pending:
                    step.categories_[i] = _served_categories(step, step.categories_[i])
            break
    return served


def _served_categories(encoder: Any, categories: Any) -> Any:
    """An encoder's categories with the learned missing value as ``MISSING_CATEGORY`` (or
    left out where an OrdinalEncoder encodes missing and unknown values alike, as NaN)."""
    ordinal_nan = (hasattr(encoder, "encoded_missing_value")
                   and is_missing(float(encoder.encoded_missing_value))
                   and encoder.handle_unknown == "use_encoded_value"
                   and is_missing(float(encoder.unknown_value)))
    values = [v for v in categories if not (ordinal_nan and is_missing(v))]
    return np.asarray([MISSING_CATEGORY if is_missing(v) else _as_sent(v) for v in values],
                      dtype=object)


def _as_sent(value: Any) -> Any:
    """A boolean category as the handler sends it (its text, "True"/"False")."""
    return str(bool(value)) if isinstance(value, (bool, np.bool_)) else value


def original_frame(frame: pd.DataFrame, features: tuple[str, ...], text: set[str],
                   markers: dict[str, Any], booleans: set[str], *,
                   served_numbers: bool = True) -> pd.DataFrame:
    """Rows as the user's model saw them in training: numbers as floats (NaN where missing;
    rounded to float32, the number type requests carry, with ``served_numbers``), text with
    the user's missing marker, true/false columns as booleans."""
    rows = frame[list(features)].copy()
    for column in features:
        if column not in text:
            numbers = rows[column].astype(np.float64)
            rows[column] = numbers.astype(np.float32).astype(np.float64) if served_numbers \
                else numbers
            continue
        marker = markers.get(column, np.nan)
        values = [marker if not isinstance(v, str) else v for v in rows[column]]
        if column in booleans:
            values = [marker if not isinstance(v, str) else v == "True" for v in values]
        rows[column] = pd.Series(values, index=rows.index, dtype=object)
    return rows


def boolean_columns(model: Any, columns: list[str], text: set[str]) -> set[str]:
    """Text columns the model's encoders learned as Python booleans (a ``boolean`` column)."""
    found = set()
    for steps, names in branches(model, columns):
        encoders = [s for s in steps if _encoder(s)]
        for i, column in enumerate(names):
            if column in text and encoders and any(
                    isinstance(v, (bool, np.bool_)) for v in encoders[0].categories_[i]):
                found.add(column)
    return found

