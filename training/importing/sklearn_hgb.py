"""HistGradientBoosting's categorical splits as threshold splits, for skl2onnx.

skl2onnx converts a HistGradientBoosting tree node by node as "value <= threshold"; a node
that splits on ``categorical_features`` (category codes in a set go left) is not expressed.
The copy the graph is converted from gets each such node rewritten as a chain of threshold
nodes over the codes, ending in the same subtrees, so it predicts what scikit-learn predicts:
a code in the node's left set goes left, another known code right, and a missing value, a
negative code or a code training never saw goes where the node sends missing values. (Codes
are truncated to whole numbers as scikit-learn does: code k is the interval [k, k+1).)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.importing.sklearn_support import named_steps


def expand_categorical_splits(model: Any) -> None:
    for _path, step in named_steps(model):
        predictors = getattr(step, "_predictors", None)
        if not predictors or getattr(step, "is_categorical_", None) is None:
            continue
        known, f_idx_map = step._bin_mapper.make_known_categories_bitsets()
        for iteration in predictors:
            for predictor in iteration:
                if predictor.nodes["is_categorical"].any():
                    predictor.nodes = _expanded(predictor, known, f_idx_map)


def _members(bitset: Any) -> set[int]:
    return {k for k in range(32 * len(bitset)) if (int(bitset[k // 32]) >> (k % 32)) & 1}


def _below(value: float) -> float:
    """The largest float32 below ``value``: ``x <= _below(k)`` is ``x < k`` for float32 x."""
    return float(np.nextafter(np.float32(value), np.float32(-np.inf)))


def _expanded(predictor: Any, known: Any, f_idx_map: Any) -> Any:
    old = predictor.nodes
    names = old.dtype.names
    rows: list[dict[str, Any]] = []

    def add(fields: dict[str, Any]) -> int:
        rows.append(fields)
        return len(rows) - 1

    def numeric(feature: int, threshold: float, missing_left: bool, depth: int) -> int:
        template = {n: old[0][n] for n in names}
        template.update(feature_idx=feature, num_threshold=threshold, is_leaf=0,
                        is_categorical=0, missing_go_to_left=int(missing_left), depth=depth,
                        value=0.0)
        return add(template)

    def build(i: int) -> int:
        node = old[i]
        if node["is_leaf"] or not node["is_categorical"]:
            at = add({n: node[n] for n in names})
            if not node["is_leaf"]:
                left, right = build(int(node["left"])), build(int(node["right"]))
                rows[at].update(left=left, right=right)
            return at
        feature = int(node["feature_idx"])
        goes_left = _members(predictor.raw_left_cat_bitsets[node["bitset_idx"]])
        seen = _members(known[f_idx_map[feature]])
        missing = int(node["left"] if node["missing_go_to_left"] else node["right"])
        # Runs of codes with the same destination: (first code past the run, destination).
        runs: list[tuple[int, int]] = []
        for code in range(max(seen) + 1):
            to = int(node["left"]) if code in goes_left else (
                int(node["right"]) if code in seen else missing)
            if runs and runs[-1][1] == to:
                runs[-1] = (code + 1, to)
            else:
                runs.append((code + 1, to))
        depth = int(node["depth"])
        # Below code 0 (and NaN) → missing; then each run; past the last known code → missing.
        first = numeric(feature, _below(0.0), True, depth)
        rows[first]["left"] = build(missing)
        previous = first
        for end, to in runs:
            link = numeric(feature, _below(float(end)), False, depth)
            rows[previous]["right"] = link
            rows[link]["left"] = build(to)
            previous = link
        rows[previous]["right"] = build(missing)
        return first

    build(0)
    expanded = np.zeros(len(rows), dtype=old.dtype)
    for i, fields in enumerate(rows):
        for name in names:
            expanded[i][name] = fields[name]
    return expanded


def _listed(columns: Any, names: Any) -> list[Any]:
    """A boolean column mask as names (or positions): skl2onnx reads no masks."""
    positions = np.flatnonzero(np.asarray(columns, dtype=bool)).tolist()
    return positions if names is None else [str(names[i]) for i in positions]


def _renumbers_nothing(own: Any) -> bool:
    """Its encoder maps codes 0..k-1 (already first) to themselves: an unknown code, which it
    would make NaN, goes where NaN goes anyway (an unknown category is missing to the trees)."""
    encoders = [(part, columns) for name, part, columns in own.transformers_
                if name == "encoder"]
    if len(encoders) != 1:
        return False
    encoder, columns = encoders[0]
    positions = np.flatnonzero(np.asarray(columns, dtype=bool)).tolist()
    if positions != list(range(len(positions))):
        return False
    for categories in encoder.categories_:
        values = [v for v in categories if not (isinstance(v, float) and np.isnan(v))]
        if not all(isinstance(v, (int, float, np.number)) for v in values) or \
                [float(v) for v in values] != [float(i) for i in range(len(values))]:
            return False
    return True


def split_own_preprocessing(model: Any) -> Any:
    """HistGradientBoosting ordinal-encodes its categorical columns itself and moves them
    first (its ``_preprocessor``): the copy makes that a step of its own in front of it, so
    skl2onnx converts the encoding and the trees see the columns in their order."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if getattr(model, "_preprocessor", None) is not None and hasattr(model, "_predictors"):
        own = model._preprocessor
        if _renumbers_nothing(own):
            model._preprocessor = None
            return model
        names = getattr(own, "feature_names_in_", None)
        own.transformers_ = [(name, "passthrough" if name == "numerical" else part,
                              _listed(columns, names))
                             for name, part, columns in own.transformers_]
        model._preprocessor = None
        return Pipeline([("own_categories", own), ("model", model)])
    if isinstance(model, Pipeline):
        model.steps = [(name, split_own_preprocessing(step)) for name, step in model.steps]
    elif isinstance(model, ColumnTransformer):
        model.transformers_ = [(name, part if isinstance(part, str)
                                else split_own_preprocessing(part), columns)
                               for name, part, columns in model.transformers_]
    return model
