"""XGBoost, LightGBM and CatBoost models → one ONNX graph in the kit's layout, with the
library's own predictions for the parity gate.

The trees are read from the model itself (``boosted_xgboost``, ``boosted_lightgbm``,
``boosted_catboost``) and written as ONNX by ``boosted_trees``, so native categorical
columns and missing values are served as the library computes them. A model with a
categorical feature takes the "columns" layout (one input per column, strings for the
categories, MISSING_CATEGORY where missing); a numbers-only model the one "input" matrix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from model_store.manifest import MISSING_CATEGORY, TabularLayout
from training.errors import DataError
from training.importing.boosted_trees import Ensemble, GraphInput, ModelFeature, ensemble_onnx
from training.importing.convert import Converted
from training.importing.loaders import ImportedModel
from training.tabular.preprocess import MATRIX_INPUT
from training.tabular.table import Table

# Names a library gives features it was trained without names for (a numpy array).
_GENERIC = re.compile(r"^(f|Column_|feature_)?\d+$")


def convert_boosted(imported: ImportedModel, table: Table, regression: bool) -> Converted:
    if imported.kind == "catboost":
        from training.importing.boosted_catboost import convert_catboost

        return convert_catboost(imported, table, regression)
    ensemble, predict = _read(imported)
    columns = _columns(ensemble.features, table)
    codes = [_codes(f, column, table)
             for f, column in zip(ensemble.features, columns, strict=True)]
    layout, inputs, features = graph_inputs(ensemble.features, columns, table)
    output = "variable" if regression else "probabilities"
    graph = ensemble_onnx(ensemble, inputs, codes, output,
                          MATRIX_INPUT if layout == "matrix" else None)
    model = imported.model

    def original(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        return predict(model, library_frame(frame, ensemble.features, columns, table),
                       regression)

    classes = None
    if not regression:
        known = getattr(model, "classes_", None)
        width = 2 if ensemble.link == "binary" else ensemble.targets
        classes = tuple(str(c) for c in known) if known is not None and len(known) == width \
            else tuple(str(i) for i in range(width))
    return Converted(graph, layout, features, output, classes, original, regression)


LibraryPredict = Callable[[Any, Any, bool], npt.NDArray[np.float64]]


def graph_inputs(features: tuple[ModelFeature, ...], columns: list[str], table: Table
                 ) -> tuple[TabularLayout, list[GraphInput], tuple[str, ...]]:
    """The kit's layout for the model, how each feature arrives, and the served features
    in the order the handler feeds them."""
    if not any(f.categories is not None for f in features) and \
            not any(c in table.categories for c in columns):
        order = [c for c in table.numbers if c in columns]
        return "matrix", [GraphInput(c, False, order.index(c)) for c in columns], tuple(order)
    inputs = [GraphInput(c, c in table.categories,
                         numbers=_text_numbers(table, c) if f.categories is None else None)
              for f, c in zip(features, columns, strict=True)]
    return "columns", inputs, tuple(columns)


def _read(imported: ImportedModel) -> tuple[Ensemble, LibraryPredict]:
    if imported.kind == "xgboost":
        from training.importing.boosted_xgboost import xgboost_ensemble, xgboost_predict

        return xgboost_ensemble(imported.model), xgboost_predict
    from training.importing.boosted_lightgbm import lightgbm_ensemble, lightgbm_predict

    return lightgbm_ensemble(imported.model), lightgbm_predict


def _columns(features: tuple[ModelFeature, ...], table: Table) -> list[str]:
    """The data file's column for each model feature: by name, or by position when the
    model was trained without names."""
    names = [f.name for f in features]
    if all(n in table.frame.columns for n in names):
        return names
    if all(_GENERIC.fullmatch(n) for n in names):
        if len(names) != len(table.feature_names):
            raise DataError(f"the model takes {len(names)} unnamed features; the data file has "
                            f"{len(table.feature_names)} feature columns "
                            f"{list(table.feature_names)}")
        return list(table.feature_names)
    missing = [n for n in names if n not in table.frame.columns]
    raise DataError(f"the model was trained on column(s) {missing} that the data file lacks; "
                    "--data must hold every column the model takes")


def _codes(feature: ModelFeature, column: str, table: Table
           ) -> dict[str | float, int] | None:
    """How each category arrives in the served graph (as the CSV's text, or as a number when
    the data file's column holds numbers), and its code."""
    if feature.categories is None:
        if column in table.categories:
            _text_numbers(table, column)  # true/false the model reads as 1/0, or refused
        return None
    if column in table.categories:
        return {_text(c): code for code, c in enumerate(feature.categories)}
    try:
        return {float(c): code for code, c in enumerate(feature.categories)}
    except (TypeError, ValueError):
        raise DataError(f"the model's categorical column {column!r} holds text categories "
                        f"{list(feature.categories)[:5]}, but the data file holds numbers "
                        "there") from None


_BOOLEANS = {"true": 1.0, "false": 0.0}


def _text_numbers(table: Table, column: str) -> dict[str, float] | None:
    """A column the model reads as numbers but the data file holds as text: true/false (a
    boolean column, which the model took as 1/0) or numbers written as text."""
    if column not in table.categories:
        return None
    numbers: dict[str, float] = {}
    for value in {v for v in table.frame[column] if isinstance(v, str)}:
        number = _BOOLEANS.get(value.strip().lower())
        if number is None:
            try:
                number = float(value)
            except ValueError:
                raise DataError(f"the model reads {column!r} as numbers, but the data file "
                                f"holds text there ({value!r}); the data file must hold the "
                                "values the model was trained on") from None
        numbers[value] = number
    return numbers


def _text(value: Any) -> str:
    """A category as ``read_table`` spells the CSV's cell (1.0 → "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def library_frame(frame: pd.DataFrame, features: tuple[ModelFeature, ...], columns: list[str],
                  table: Table) -> Any:
    """Rows as the library takes them: numbers as float, each categorical column a pandas
    ``category`` with the training categories (so a missing or unseen value is NaN); a
    float matrix for a model trained on one (no names, no categories)."""
    rows: dict[str, Any] = {}
    for feature, column in zip(features, columns, strict=True):
        values = frame[column]
        if feature.coded:  # the library took the code as a number
            rows[feature.name] = values.astype(np.float64).to_numpy()
            continue
        if feature.categories is None:
            numbers = _text_numbers(table, column)
            rows[feature.name] = values.astype(np.float64).to_numpy() if numbers is None \
                else np.array([numbers.get(v, np.nan) if isinstance(v, str) else np.nan
                               for v in values], dtype=np.float64)
            continue
        lookup = {(_text(c) if column in table.categories else float(c)): c
                  for c in feature.categories}
        mapped = [lookup.get(_cell(v, column in table.categories)) for v in values]
        rows[feature.name] = pd.Categorical(mapped, categories=list(feature.categories))
    if all((f.categories is None or f.coded) and _GENERIC.fullmatch(f.name) for f in features):
        return np.column_stack(list(rows.values()))
    return pd.DataFrame(rows, index=frame.index)


def _cell(value: Any, text: bool) -> Any:
    if text:
        return value if isinstance(value, str) and value != MISSING_CATEGORY else None
    return None if value is None or pd.isna(value) else float(value)
