"""An XGBoost model (a Booster, or its scikit-learn wrapper) → ``Ensemble``, read from the
model's own JSON (``save_raw("json")``, the same content as a saved .json or .ubj file).

XGBoost sends a value left when ``x < split_condition``; a categorical node sends the
categories it lists to the right; a missing value follows ``default_left``. The category
names a model trained on pandas ``category`` columns keeps (``cats``) give each code its
value. XGBoost itself refuses a category it never saw; the graph, like XGBoost given the
column with the training categories, treats it as missing.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.errors import UnsupportedModelError
from training.importing.boosted_trees import Ensemble, Link, ModelFeature, Node, Tree

# objective → (the link from margins to the served output, how base_score becomes a margin)
_OBJECTIVES: dict[str, tuple[Link, str]] = {
    "binary:logistic": ("binary", "logit"), "binary:logitraw": ("binary", "identity"),
    "multi:softprob": ("softmax", "identity"), "multi:softmax": ("softmax", "identity"),
    "reg:squarederror": ("identity", "identity"), "reg:absoluteerror": ("identity", "identity"),
    "reg:pseudohubererror": ("identity", "identity"),
    "reg:squaredlogerror": ("identity", "identity"), "reg:quantileerror": ("identity", "identity"),
    "reg:logistic": ("sigmoid", "logit"), "count:poisson": ("exp", "log"),
    "reg:gamma": ("exp", "log"), "reg:tweedie": ("exp", "log")}


def booster_of(model: Any) -> Any:
    return model.get_booster() if hasattr(model, "get_booster") else model


def xgboost_ensemble(model: Any) -> Ensemble:
    booster = booster_of(model)
    learner = json.loads(bytes(booster.save_raw(raw_format="json")))["learner"]
    objective = learner["objective"]["name"]
    if objective not in _OBJECTIVES:
        raise UnsupportedModelError(f"XGBoost objective {objective!r} is not supported; "
                                    f"supported: {', '.join(_OBJECTIVES)}")
    link, base_space = _OBJECTIVES[objective]
    gbm = learner["gradient_booster"]
    if gbm["name"] not in ("gbtree", "dart"):
        raise UnsupportedModelError(f"XGBoost booster {gbm['name']!r} is not supported "
                                    "(gbtree and dart are); train with booster='gbtree'")
    trees_model = gbm["model"] if gbm["name"] == "gbtree" else gbm["gbtree"]["model"]
    weights = gbm.get("weight_drop") if gbm["name"] == "dart" else None
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) > 1:
        raise UnsupportedModelError("multi-output XGBoost models (num_target > 1) are not "
                                    "supported; train one model per target")
    classes = int(params.get("num_class", "0"))
    targets = classes if classes > 2 or objective.startswith("multi:") else 1
    if link == "binary" and targets > 1:
        link = "softmax"
    base = _base_margins(params["base_score"], base_space, targets)
    features = _features(learner, trees_model)
    count = _tree_count(booster, trees_model)
    trees = []
    for index, (raw, target) in enumerate(zip(trees_model["trees"][:count],
                                              trees_model["tree_info"][:count], strict=True)):
        scale = float(weights[index]) if weights else 1.0
        trees.append(Tree(_nodes(raw, scale), target=int(target) if targets > 1 else 0))
    return Ensemble("xgboost", features, tuple(trees), targets, base, link)


def _base_margins(text: str, space: str, targets: int) -> tuple[float, ...]:
    values = [float(v) for v in str(text).strip("[]").split(",") if v.strip()]
    if len(values) == 1:
        values = values * targets
    if space == "logit":
        values = [math.log(v / (1.0 - v)) if 0.0 < v < 1.0 else 0.0 for v in values]
    elif space == "log":
        values = [math.log(v) if v > 0 else 0.0 for v in values]
    return tuple(values)


def _tree_count(booster: Any, trees_model: dict[str, Any]) -> int:
    """The trees predict uses: all of them, or up to the best iteration of early stopping."""
    best = booster.attributes().get("best_iteration")
    indptr = trees_model.get("iteration_indptr")
    if best is None or not indptr or int(best) + 1 >= len(indptr):
        return len(trees_model["trees"])
    return int(indptr[int(best) + 1])


def _features(learner: dict[str, Any], trees_model: dict[str, Any]) -> tuple[ModelFeature, ...]:
    count = int(learner["learner_model_param"]["num_feature"])
    names = learner.get("feature_names") or [f"f{i}" for i in range(count)]
    types = learner.get("feature_types") or ["float"] * count
    encoded = _category_names(trees_model.get("cats"), count)
    features = []
    for index, (name, kind) in enumerate(zip(names, types, strict=True)):
        if kind != "c":
            features.append(ModelFeature(str(name)))
            continue
        categories = encoded[index]
        if categories is None:
            raise UnsupportedModelError(
                f"XGBoost feature {name!r} is categorical but the model keeps no category "
                "names (trained on codes, or by XGBoost before 3.1); retrain on a pandas "
                "DataFrame whose column has the `category` dtype")
        features.append(ModelFeature(str(name), tuple(categories)))
    return tuple(features)


def _category_names(cats: dict[str, Any] | None, count: int) -> list[list[Any] | None]:
    names: list[list[Any] | None] = [None] * count
    for index, column in enumerate((cats or {}).get("enc", [])[:count]):
        offsets, values = column.get("offsets", []), column.get("values", [])
        if offsets:
            raw = bytes(values)  # offsets: each name's start, then the end of the last
            names[index] = [raw[a:b].decode("utf-8")
                            for a, b in itertools.pairwise(offsets)]
        elif values:
            names[index] = list(values)
    return names


def _nodes(tree: dict[str, Any], scale: float) -> tuple[Node, ...]:
    members = _members(tree)
    left, right = tree["left_children"], tree["right_children"]
    split_type = tree.get("split_type") or [0] * len(left)
    nodes = []
    for i, child in enumerate(left):
        if child == -1:
            nodes.append(Node(value=scale * float(tree["split_conditions"][i])))
        elif split_type[i] == 1:
            nodes.append(Node(left=child, right=right[i], feature=tree["split_indices"][i],
                              members=frozenset(members[i]), members_left=False,
                              missing_left=bool(tree["default_left"][i])))
        else:
            nodes.append(Node(left=child, right=right[i], feature=tree["split_indices"][i],
                              threshold=float(tree["split_conditions"][i]), inclusive=False,
                              missing_left=bool(tree["default_left"][i])))
    return tuple(nodes)


def _members(tree: dict[str, Any]) -> dict[int, list[int]]:
    found = {}
    for node, start, size in zip(tree.get("categories_nodes", []),
                                 tree.get("categories_segments", []),
                                 tree.get("categories_sizes", []), strict=True):
        found[int(node)] = [int(c) for c in tree["categories"][start:start + size]]
    return found


def xgboost_predict(model: Any, frame: pd.DataFrame, regression: bool
                    ) -> npt.NDArray[np.float64]:
    """The library's own answer: the wrapper's predict/predict_proba, or the Booster's."""
    if hasattr(model, "get_booster"):
        out = model.predict(frame) if regression else model.predict_proba(frame)
    else:
        import xgboost

        best = model.attributes().get("best_iteration")
        rounds = (0, int(best) + 1) if best is not None else (0, 0)
        objective = json.loads(model.save_config())["learner"]["objective"]["name"]
        # These two answer labels or raw margins: their probabilities are the margins' link.
        raw = objective in ("multi:softmax", "binary:logitraw")
        out = model.predict(xgboost.DMatrix(frame, enable_categorical=True),
                            iteration_range=rounds, output_margin=raw)
        if objective == "binary:logitraw":
            out = 1.0 / (1.0 + np.exp(-np.asarray(out, dtype=np.float64)))
        elif raw:
            shifted = np.exp(out - np.max(out, axis=1, keepdims=True))
            out = shifted / shifted.sum(axis=1, keepdims=True)
    out = np.asarray(out, dtype=np.float64)
    if not regression and out.ndim == 1:
        out = np.stack([1.0 - out, out], axis=1)
    return out
