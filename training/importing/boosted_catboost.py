"""A CatBoost model (``.cbm`` or a pickled wrapper) → the kit's graph, from its JSON export.

CatBoost's own ONNX export refuses every model with a categorical feature; here each
categorical column becomes a code (the data file's values, the filler the user trained
missing values as, and one code for anything else), found in the graph by a LabelEncoder.
A one-hot split is set membership on that code (the value matched by CatBoost's hash of
the text, which its own export gives for a Pool of the data file's values); a split on
target statistics (CTRs, CatBoost's default for columns with more than a few values) reads
a 0/1 table over the combination of codes and number bits it projects
(``boosted_catboost_ctr``). Oblivious trees become ordinary ones: level j tests split j,
and the leaf index is the sum of the passed tests' bits.
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from model_store.manifest import MISSING_CATEGORY
from training.errors import UnsupportedModelError
from training.importing.boosted_catboost_ctr import (
    UNSEEN_HASH,
    CategoryHashes,
    calc_hash,
    ctr_lookups,
    hash_keys,
)
from training.importing.boosted_trees import (
    Ensemble,
    Link,
    ModelFeature,
    Node,
    Tree,
    ensemble_onnx,
)
from training.importing.convert import Converted
from training.importing.loaders import ImportedModel
from training.tabular.preprocess import MATRIX_INPUT
from training.tabular.table import Table

_LINKS: dict[str, Link] = {"Logloss": "binary", "CrossEntropy": "binary",
                           "MultiClass": "softmax", "MultiClassOneVsAll": "sigmoid",
                           "RMSE": "identity", "MAE": "identity", "Quantile": "identity",
                           "MAPE": "identity", "Huber": "identity", "Expectile": "identity",
                           "Poisson": "exp", "Tweedie": "exp"}
# What users fill a missing category with before CatBoost (it refuses NaN there), in the
# order tried; the one the model knows is what a missing value is served as.
_MISSING_TOKENS = ("", "nan", "NaN", "None", "missing", "Missing", "NA", "N/A", "unknown",
                   "<NA>")


def convert_catboost(imported: ImportedModel, table: Table, regression: bool) -> Converted:
    from training.importing.boosted import _columns, graph_inputs

    model = imported.model
    dump = _json(model)
    loss = str(model.get_all_params().get("loss_function", "")).split(":")[0]
    if loss not in _LINKS:
        raise UnsupportedModelError(f"CatBoost loss {loss!r} is not supported; supported: "
                                    f"{', '.join(_LINKS)}")
    info = dump["features_info"]
    floats = {f["flat_feature_index"]: f for f in info.get("float_features", [])}
    cats = {f["flat_feature_index"]: f for f in info.get("categorical_features", [])}
    flat = sorted({*floats, *cats})
    if flat != list(range(len(flat))):
        raise UnsupportedModelError("CatBoost model with text or embedding features: not "
                                    "supported; train on number and categorical columns")
    named = tuple(ModelFeature(str(floats[i].get("feature_id") or i)) if i in floats else
                  ModelFeature(str(cats[i].get("feature_id") or i), ()) for i in flat)
    columns = _columns(named, table)
    hashes = _hashes(model, named, columns, table)
    fill = _missing_token(dump, hashes)
    # A categorical feature's codes: the data file's values (and the filler), sorted.
    features = tuple(f if f.categories is None else ModelFeature(
        f.name, tuple(sorted({_as_text(v) for v in table.frame[c] if _present(v)} | {fill})))
        for f, c in zip(named, columns, strict=True))
    codes = [None if f.categories is None else _codes(f, c, table, fill)
             for f, c in zip(features, columns, strict=True)]
    ensemble = _ensemble(dump, loss, floats, cats, features, hashes)
    layout, inputs, served = graph_inputs(features, columns, table)
    output = "variable" if regression else "probabilities"
    graph = ensemble_onnx(ensemble, inputs, codes, output,
                          MATRIX_INPUT if layout == "matrix" else None)

    def original(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        rows = catboost_frame(frame, features, columns, table, fill)
        kind = "Probability" if not regression else \
            ("Exponent" if ensemble.link == "exp" else "RawFormulaVal")
        return np.asarray(model.predict(rows, prediction_type=kind), dtype=np.float64)

    classes = None
    if not regression:
        names = dump["model_info"].get("class_params", {}).get("class_names") or []
        width = 2 if ensemble.link == "binary" else ensemble.targets
        classes = tuple(str(c) for c in names) if len(names) == width else \
            tuple(str(i) for i in range(width))
    return Converted(graph, layout, served, output, classes, original, regression)


def _json(model: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="featherserve-catboost-") as work:
        path = Path(work) / "model.json"
        model.save_model(str(path), format="json")
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded


def _hashes(model: Any, features: tuple[ModelFeature, ...], columns: list[str],
            table: Table) -> dict[str, int]:
    """CatBoost's hash of every value the data file holds in a categorical column (and of
    the usual missing-value fillers), from its Python export given a Pool of them."""
    import catboost

    texts = set(_MISSING_TOKENS)
    for feature, column in zip(features, columns, strict=True):
        if feature.categories is not None:
            texts |= {_as_text(v) for v in table.frame[column] if _present(v)}
    values = sorted(texts)
    rows = pd.DataFrame({f.name: (values if f.categories is not None else [0.0] * len(values))
                         for f in features})
    positions = [i for i, f in enumerate(features) if f.categories is not None]
    with tempfile.TemporaryDirectory(prefix="featherserve-catboost-") as work:
        path = Path(work) / "model.py"
        model.save_model(str(path), format="python",
                         pool=catboost.Pool(rows, cat_features=positions))
        found = re.search(r"^cat_features_hashes = (\{.*?\n\})", path.read_text(),
                          re.MULTILINE | re.DOTALL)
    if found is None:
        raise UnsupportedModelError("CatBoost's export gave no category hashes; cannot serve "
                                    "its categorical columns")
    mapping: dict[str, int] = ast.literal_eval(found.group(1))
    return mapping


def _missing_token(dump: dict[str, Any], hashes: dict[str, int]) -> str:
    """The filler the model was trained with for a missing category: one whose hash it
    one-hot tests, or keeps target statistics for."""
    one_hot = {int(v) for f in dump["features_info"].get("categorical_features", [])
               for v in f.get("values", [])}
    counted = hash_keys(dump)
    for token in _MISSING_TOKENS:
        hashed = hashes.get(token)
        if hashed is not None and (hashed in one_hot or calc_hash(0, hashed) in counted):
            return token
    return MISSING_CATEGORY


def _codes(feature: ModelFeature, column: str, table: Table, fill: str
           ) -> dict[str | float, int]:
    assert feature.categories is not None
    position = {value: i for i, value in enumerate(feature.categories)}
    text = column in table.categories
    codes: dict[str | float, int] = {}
    for value in table.frame[column]:
        if _present(value):
            codes[str(value) if text else float(value)] = position[_as_text(value)]
    if text:
        codes[MISSING_CATEGORY] = position[fill]
    return codes


def _ensemble(dump: dict[str, Any], loss: str, floats: dict[int, Any], cats: dict[int, Any],
              features: tuple[ModelFeature, ...], hashes: dict[str, int]) -> Ensemble:
    scale, bias = dump["scale_and_bias"]
    bias = list(bias) if isinstance(bias, list) else [bias]
    targets = len(bias)
    float_flat = {f["feature_index"]: i for i, f in floats.items()}
    cat_flat = {f["feature_index"]: i for i, f in cats.items()}
    hashed = CategoryHashes({i: [hashes.get(v, UNSEEN_HASH) for v in f.categories or ()]
                             + [UNSEEN_HASH] for i, f in enumerate(features)
                             if f.categories is not None})
    lookups, split_lookup = ctr_lookups(dump, cat_flat, float_flat, floats, hashed)
    trees = []
    for raw in dump["oblivious_trees"]:
        splits = raw.get("splits", [])
        values = np.asarray(raw["leaf_values"], dtype=np.float64).reshape(-1, targets)
        for target in range(targets):
            nodes = _oblivious(splits, scale * values[:, target], floats, float_flat,
                               cat_flat, hashed, split_lookup)
            trees.append(Tree(nodes, target=target))
    return Ensemble("catboost", features, tuple(trees), targets, tuple(bias), _LINKS[loss],
                    lookups)


def _oblivious(splits: list[dict[str, Any]], leaves: npt.NDArray[np.float64],
               floats: dict[int, Any], float_flat: dict[int, int], cat_flat: dict[int, int],
               hashed: CategoryHashes, split_lookup: dict[int, int]) -> tuple[Node, ...]:
    """Level j tests split j; passing it sets bit j of the leaf index (right child)."""
    nodes: list[Node] = []

    def build(level: int, index: int) -> int:
        at = len(nodes)
        nodes.append(Node())
        if level == len(splits):
            nodes[at] = Node(value=float(leaves[index]))
            return at
        left = build(level + 1, index)
        right = build(level + 1, index | (1 << level))
        split = splits[level]
        if split["split_type"] == "FloatFeature":
            flat = float_flat[split["float_feature_index"]]
            treatment = floats[flat].get("nan_value_treatment", "AsIs")
            nodes[at] = Node(left=left, right=right, feature=flat,
                             threshold=float(split["border"]), inclusive=True,
                             missing_left=treatment != "AsTrue")
        elif split["split_type"] == "OneHotFeature":
            flat = cat_flat[split["cat_feature_index"]]
            codes = hashed.by_feature[flat][:-1]  # the last: unseen, never equal
            nodes[at] = Node(left=left, right=right, feature=flat,
                             members=frozenset(i for i, h in enumerate(codes)
                                               if h == int(split["value"])),
                             members_left=False, missing_left=True)
        else:  # OnlineCtr: its lookup's bit (ctr > border) is the passed test
            nodes[at] = Node(left=left, right=right,
                             lookup=split_lookup[split["split_index"]])
        return at

    build(0, 0)
    return tuple(nodes)


def catboost_frame(frame: pd.DataFrame, features: tuple[ModelFeature, ...],
                   columns: list[str], table: Table, fill: str) -> pd.DataFrame:
    """Rows as CatBoost takes them: categories as text (missing → the filler the model
    knows), numbers as float with NaN."""
    rows: dict[str, Any] = {}
    for feature, column in zip(features, columns, strict=True):
        values = frame[column]
        if feature.categories is None:
            from training.importing.boosted import _text_numbers

            numbers = _text_numbers(table, column)
            rows[feature.name] = values.astype(np.float64).to_numpy() if numbers is None \
                else np.array([numbers.get(v, np.nan) if isinstance(v, str) else np.nan
                               for v in values], dtype=np.float64)
        else:
            rows[feature.name] = [_as_text(v) if _present(v) else fill for v in values]
    return pd.DataFrame(rows, index=frame.index)


def _present(value: Any) -> bool:
    if value is None or (isinstance(value, str) and value == MISSING_CATEGORY):
        return False
    return isinstance(value, str) or not pd.isna(value)


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
