"""A LightGBM model (a Booster, or its scikit-learn wrapper) → ``Ensemble``, read from
``dump_model()`` (the same trees ``predict`` uses, best iteration included).

LightGBM sends a value left when ``x <= threshold``; a missing number follows
``default_left`` (``missing_type`` NaN), or is read as 0 (``None``). A categorical node
lists the codes that go left; a missing or unseen category goes right. The category names
of a model trained on pandas ``category`` columns (``pandas_categorical``) give each code
its value; a model trained on integer codes (``categorical_feature=[...]``) takes the code
itself.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.errors import UnsupportedModelError
from training.importing.boosted_trees import Ensemble, Link, ModelFeature, Node, Tree

_IDENTITY = ("regression", "regression_l1", "l1", "l2", "huber", "fair", "quantile", "mape")
_EXP = ("poisson", "gamma", "tweedie")


def booster_of(model: Any) -> Any:
    return model.booster_ if hasattr(model, "booster_") else model


def lightgbm_ensemble(model: Any) -> Ensemble:
    booster = booster_of(model)
    dump = booster.dump_model()
    objective, *params = str(dump.get("objective", "")).split()
    settings = dict(p.split(":", 1) for p in params if ":" in p)
    if "sqrt" in params:
        raise UnsupportedModelError("LightGBM models trained with reg_sqrt are not supported")
    targets = int(dump.get("num_tree_per_iteration", 1))
    scale = float(settings.get("sigmoid", 1.0))
    link: Link
    if objective == "binary":
        link = "binary"
    elif objective == "multiclass":
        link = "softmax"
    elif objective in ("multiclassova", "cross_entropy", "xentropy"):
        link = "sigmoid"
    elif objective in _IDENTITY:
        link, scale = "identity", 1.0
    elif objective in _EXP:
        link, scale = "exp", 1.0
    else:
        raise UnsupportedModelError(f"LightGBM objective {objective!r} is not supported "
                                    "(binary, multiclass, multiclassova, regression and its "
                                    "variants, poisson, gamma, tweedie)")
    if objective not in ("binary", "multiclassova"):
        scale = 1.0
    names = list(dump["feature_names"])
    categorical = _categorical(booster, dump, names)
    features = _features(names, categorical, booster.pandas_categorical, dump)
    trees_info = dump["tree_info"]
    if dump.get("average_output"):  # random-forest mode: the mean of the trees
        scale /= max(1, len(trees_info) // max(1, targets))
    trees = tuple(Tree(_nodes(info["tree_structure"], scale, names),
                       target=index % targets) for index, info in enumerate(trees_info))
    return Ensemble("lightgbm", features, trees, targets, (0.0,) * targets, link)


def _categorical(booster: Any, dump: dict[str, Any], names: list[str]) -> list[str]:
    """The categorical features, in order, as training declared them (the model file's
    ``categorical_feature`` parameter: ``feature_infos`` leaves out a feature with one value)."""
    declared = re.search(r"^\[categorical_feature: ?([0-9, ]*)\]$", booster.model_to_string(),
                         re.MULTILINE)
    if declared and declared.group(1).strip():
        return [names[int(i)] for i in declared.group(1).split(",")]
    infos = dump.get("feature_infos", {})
    return [n for n in names if infos.get(n, {}).get("values")]


def _features(names: list[str], categorical: list[str],
              pandas_categorical: list[list[Any]] | None, dump: dict[str, Any]
              ) -> tuple[ModelFeature, ...]:
    if not pandas_categorical:  # integer codes (categorical_feature=[...]): the code is the value
        infos = dump.get("feature_infos", {})
        largest = {n: max([int(v) for v in infos.get(n, {}).get("values", [])] + [0])
                   for n in categorical}
        return tuple(ModelFeature(n, tuple(range(largest[n] + 1)), coded=True)
                     if n in largest else ModelFeature(n) for n in names)
    if len(pandas_categorical) != len(categorical):
        raise UnsupportedModelError(
            f"LightGBM feature(s) {categorical} are categorical, but the model keeps category "
            f"names for {len(pandas_categorical)} of them (pandas `category` columns mixed with "
            "integer-coded ones); retrain with all of them as pandas `category` columns")
    values = dict(zip(categorical, pandas_categorical, strict=True))
    return tuple(ModelFeature(n, tuple(values[n]) if n in values else None) for n in names)


def _nodes(root: dict[str, Any], scale: float, names: list[str]) -> tuple[Node, ...]:
    """Depth-first, root first; each node's children get the ids they are appended at."""
    nodes: list[Node] = []

    def visit(node: dict[str, Any]) -> int:
        index = len(nodes)
        nodes.append(Node())
        if "leaf_value" in node:
            if node.get("leaf_coeff"):
                raise UnsupportedModelError("LightGBM linear trees (linear_tree=True) are "
                                            "not supported")
            nodes[index] = Node(value=scale * float(node["leaf_value"]))
            return index
        left, right = visit(node["left_child"]), visit(node["right_child"])
        feature, missing = int(node["split_feature"]), node.get("missing_type", "None")
        if node["decision_type"] == "==":
            codes = frozenset(int(c) for c in str(node["threshold"]).split("||"))
            nodes[index] = Node(left=left, right=right, feature=feature, members=codes,
                                members_left=True, missing_left=False)
            return index
        threshold = float(node["threshold"])
        default_left = bool(node.get("default_left", True))
        zero_left = threshold >= 0.0
        if missing == "None":
            default_left = zero_left
        elif missing == "Zero" and default_left != zero_left:
            raise UnsupportedModelError(
                f"LightGBM feature {names[feature]!r} treats zero as missing "
                "(zero_as_missing=True) in a way ONNX cannot express; retrain without it")
        nodes[index] = Node(left=left, right=right, feature=feature, threshold=threshold,
                            inclusive=True, missing_left=default_left)
        return index

    visit(root)
    return tuple(nodes)


def lightgbm_predict(model: Any, frame: pd.DataFrame, regression: bool
                     ) -> npt.NDArray[np.float64]:
    """The library's own answer: the wrapper's predict/predict_proba, or the Booster's."""
    if hasattr(model, "booster_"):
        out = model.predict(frame) if regression else model.predict_proba(frame)
    else:
        out = model.predict(frame)
    out = np.asarray(out, dtype=np.float64)
    if not regression and out.ndim == 1:
        out = np.stack([1.0 - out, out], axis=1)
    return out
