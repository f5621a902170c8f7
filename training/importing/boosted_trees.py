"""A boosted-tree ensemble in one neutral form, and the ONNX graph that computes it.

XGBoost, LightGBM and CatBoost each parse their model into an ``Ensemble``: binary trees
whose nodes test a number against a threshold, or a category against a set of category
codes; each node says where a missing value goes. ``ensemble_onnx`` writes the graph:

    text column ──LabelEncoder──▶ code (unseen, missing → K) ──Gather──▶ one 0/1 column per
                                  distinct category set the trees test (NaN for code K)
    number columns ───────────────────────────────────────────────▶ Concat ──▶
    TreeEnsembleRegressor (sums of leaves + base, one column per target) ──▶ link

A categorical split is then a numeric test on its membership column (``< 0.5``: not in the
set; NaN: the library's direction for missing). Only ai.onnx.ml opset 3 operators are used,
which every onnxruntime the kit serves with (Lambda, onnxruntime-web) runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = {"": 17, "ai.onnx.ml": 3}
Link = Literal["identity", "sigmoid", "softmax", "exp", "binary"]
# How each link turns the summed margins into the served output: "binary" is a sigmoid
# whose probability p is served as the two columns [1 - p, p].


@dataclass(frozen=True)
class Node:
    left: int = -1                       # -1: a leaf
    right: int = -1
    feature: int = 0                     # index into Ensemble.features
    threshold: float = 0.0               # numbers: go left when x < t (or x <= t)
    inclusive: bool = False              # True: x <= t (LightGBM); False: x < t (XGBoost)
    members: frozenset[int] | None = None  # categories: the codes that go to members_side
    members_left: bool = True
    missing_left: bool = False           # where a missing (or unseen) value goes
    value: float = 0.0                   # a leaf's value, in margin space
    lookup: int | None = None            # tests Ensemble.lookups[i]: 1 goes right, 0 left

    @property
    def is_leaf(self) -> bool:
        return self.left < 0


@dataclass(frozen=True)
class Tree:
    nodes: tuple[Node, ...]              # nodes[0] is the root
    target: int = 0                      # the output column (class) it adds to


@dataclass(frozen=True)
class ModelFeature:
    name: str                            # as the model names it
    categories: tuple[Any, ...] | None = None  # a categorical feature's values, code order
    coded: bool = False                  # the library takes the code itself, as a number


@dataclass(frozen=True)
class LookupPart:
    feature: int
    border: float | None = None          # None: the category's code; else the bit x > border
    nan_high: bool = False               # a missing number's bit is 1


@dataclass(frozen=True)
class Lookup:
    """A 0/1 test read from a table indexed by several features at once (CatBoost's target
    statistics over combinations): categorical codes (radix K + 1, K: unseen or missing)
    and number bits (radix 2), the first part most significant."""

    parts: tuple[LookupPart, ...]
    table: Any                           # flat float32 array over the parts' values


@dataclass(frozen=True)
class Ensemble:
    library: str
    features: tuple[ModelFeature, ...]
    trees: tuple[Tree, ...]
    targets: int                         # margins per row (classes for multiclass, else 1)
    base: tuple[float, ...]              # margin added per target
    link: Link
    lookups: tuple[Lookup, ...] = ()


@dataclass(frozen=True)
class GraphInput:
    """How the served graph receives model feature ``feature``: its own input column (the
    kit's "columns" layout), or column ``index`` of the one "input" matrix."""

    name: str
    text: bool                           # a string tensor (categories as the CSV has them)
    index: int | None = None             # matrix layout: the column of the input matrix
    # A number the data file holds as text (true/false): each text's number; others missing.
    numbers: Mapping[str, float] | None = None


@dataclass
class _Graph:
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    count: int = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def add(self, op: str, inputs: list[str], stem: str, domain: str = "",
            **attributes: Any) -> str:
        out = self.name(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain,
                                           **attributes))
        return out

    def const(self, array: np.ndarray, stem: str) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name


def ensemble_onnx(ensemble: Ensemble, inputs: Sequence[GraphInput],
                  category_codes: Sequence[Mapping[str | float, int] | None],
                  output: str, matrix_input: str | None = None) -> onnx.ModelProto:
    """The graph computing ``ensemble``. ``inputs[i]`` and ``category_codes[i]`` say how model
    feature i arrives: for a categorical feature, the code of each value it is sent as
    (strings for a text column, numbers for a numeric one); any other value is missing."""
    graph = _Graph()
    columns: list[str] = []              # blocks to concatenate, each [N, width]
    column_of: dict[tuple[int, frozenset[int] | None], int] = {}
    width = 0
    source = matrix_input
    encoded: dict[int, str] = {}         # categorical feature → its codes [N] int64
    numbers: dict[int, str] = {}         # numeric feature → its column [N, 1]
    for index, (feature, arrives) in enumerate(zip(ensemble.features, inputs, strict=True)):
        raw = arrives.name
        if matrix_input is not None:
            assert arrives.index is not None
            raw = graph.add("Slice", [matrix_input, graph.const(np.array([arrives.index]), "s"),
                                      graph.const(np.array([arrives.index + 1]), "e"),
                                      graph.const(np.array([1]), "a")], "column")
        if feature.categories is None:
            if arrives.text:
                raw = _text_numbers(graph, raw, arrives.numbers or {})
            numbers[index] = raw
            columns.append(raw)
            column_of[(index, None)] = width
            width += 1
            continue
        sets = _sets_of(ensemble, index)
        if not sets and not any(p.feature == index for u in ensemble.lookups for p in u.parts):
            continue
        codes = category_codes[index]
        assert codes is not None and feature.categories is not None
        encoded[index] = _encode(graph, raw, codes, len(feature.categories), arrives.text)
        if not sets:
            continue
        columns.append(_membership(graph, encoded[index], len(feature.categories), sets))
        for position, members in enumerate(sets):
            column_of[(index, members)] = width + position
        width += len(sets)
    for position, lookup in enumerate(ensemble.lookups):
        columns.append(_lookup_column(graph, lookup, encoded, numbers, ensemble.features))
        column_of[(-1 - position, None)] = width
        width += 1
    if not columns:  # trees without a single split: still one column to feed the ensemble
        columns.append(graph.const(np.zeros((1, 1), np.float32), "nothing"))
        width = 1
    matrix = columns[0] if len(columns) == 1 else graph.add("Concat", columns, "x", axis=1)
    margins = _tree_ensemble(graph, ensemble, matrix, column_of)
    _link(graph, ensemble.link, margins, output)
    typed = [helper.make_tensor_value_info(source, TensorProto.FLOAT, [None, len(inputs)])] \
        if source is not None else \
        [helper.make_tensor_value_info(i.name, TensorProto.STRING if i.text else TensorProto.FLOAT,
                                       [None, 1]) for i in inputs]
    width_out = 2 if ensemble.link == "binary" else ensemble.targets
    body = helper.make_graph(graph.nodes, f"{ensemble.library}_ensemble", typed,
                             [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                                            [None, width_out])],
                             graph.initializers)
    model = helper.make_model(body, opset_imports=[helper.make_opsetid(d, v)
                                                   for d, v in OPSET.items()],
                              producer_name="featherserve", ir_version=8)
    onnx.checker.check_model(model)
    return model


def _sets_of(ensemble: Ensemble, feature: int) -> list[frozenset[int]]:
    seen: dict[frozenset[int], None] = {}
    for tree in ensemble.trees:
        for node in tree.nodes:
            if not node.is_leaf and node.feature == feature and node.members is not None:
                seen.setdefault(node.members, None)
    return list(seen)


def _encode(graph: _Graph, raw: str, codes: Mapping[str | float, int], count: int,
            text: bool) -> str:
    """[N] int64: each row's category code; ``count`` where missing or never seen."""
    attributes: dict[str, Any] = {"default_int64": count, "values_int64s": list(codes.values())}
    if text:
        attributes["keys_strings"] = [str(k) for k in codes]
    else:
        attributes["keys_floats"] = [float(k) for k in codes]
    flat = graph.add("Reshape", [raw, graph.const(np.array([-1]), "flat")], "flat")
    return graph.add("LabelEncoder", [flat], "code", domain="ai.onnx.ml", **attributes)


def _lookup_column(graph: _Graph, lookup: Lookup, encoded: dict[int, str],
                   numbers: dict[int, str], features: tuple[ModelFeature, ...]) -> str:
    """[N, 1]: the lookup's table at each row's mixed-radix index."""
    index = graph.const(np.zeros(1, np.int64), "index")
    for part in lookup.parts:
        if part.border is None:
            radix, digit = len(features[part.feature].categories or ()) + 1, \
                encoded[part.feature]
        else:
            column = graph.add("Reshape", [numbers[part.feature],
                                           graph.const(np.array([-1]), "flat")], "flat")
            border = graph.const(np.array([part.border], np.float32), "border")
            bit = graph.add("Not", [graph.add("LessOrEqual", [column, border], "le")], "gt") \
                if part.nan_high else graph.add("Greater", [column, border], "gt")
            radix, digit = 2, graph.add("Cast", [bit], "bit", to=TensorProto.INT64)
        scaled = graph.add("Mul", [index, graph.const(np.array([radix], np.int64), "radix")],
                           "scaled")
        index = graph.add("Add", [scaled, digit], "index")
    values = graph.add("Gather", [graph.const(np.asarray(lookup.table, np.float32), "table"),
                                  index], "looked", axis=0)
    return graph.add("Reshape", [values, graph.const(np.array([-1, 1]), "column")], "column")


def _membership(graph: _Graph, encoded: str, count: int, sets: list[frozenset[int]]) -> str:
    """[N, len(sets)]: 1.0 where the row's category is in the set, 0.0 where not, NaN where
    it is missing or was never seen in training (code ``count``)."""
    table = np.zeros((count + 1, len(sets)), np.float32)
    for position, members in enumerate(sets):
        table[[c for c in members if c < count], position] = 1.0
    table[count, :] = np.nan
    return graph.add("Gather", [graph.const(table, "members"), encoded], "member", axis=0)


def _text_numbers(graph: _Graph, raw: str, numbers: Mapping[str, float]) -> str:
    flat = graph.add("Reshape", [raw, graph.const(np.array([-1]), "flat")], "flat")
    values = graph.add("LabelEncoder", [flat], "number", domain="ai.onnx.ml",
                       keys_strings=list(numbers), values_floats=list(numbers.values()),
                       default_float=float("nan"))
    return graph.add("Reshape", [values, graph.const(np.array([-1, 1]), "column")], "column")


def _tree_ensemble(graph: _Graph, ensemble: Ensemble, matrix: str,
                   column_of: dict[tuple[int, frozenset[int] | None], int]) -> str:
    nodes: dict[str, list[Any]] = {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "target_treeids", "target_nodeids", "target_ids", "target_weights")}
    for tree_id, tree in enumerate(ensemble.trees):
        for node_id, node in enumerate(tree.nodes):
            nodes["nodes_treeids"].append(tree_id)
            nodes["nodes_nodeids"].append(node_id)
            if node.is_leaf:
                nodes["nodes_featureids"].append(0)
                nodes["nodes_values"].append(0.0)
                nodes["nodes_modes"].append("LEAF")
                nodes["nodes_truenodeids"].append(0)
                nodes["nodes_falsenodeids"].append(0)
                nodes["nodes_missing_value_tracks_true"].append(0)
                nodes["target_treeids"].append(tree_id)
                nodes["target_nodeids"].append(node_id)
                nodes["target_ids"].append(tree.target)
                nodes["target_weights"].append(float(np.float32(node.value)))
                continue
            if node.lookup is not None:
                threshold, mode = 0.5, "BRANCH_LEQ"
                true_node, false_node = node.left, node.right
                feature = column_of[(-1 - node.lookup, None)]
            elif node.members is None:
                # True branch: left. The nearest float32 keeps x <= t for every x <= t
                # (rounding is monotonic); a value just above t can only flip when the two
                # are closer than float32 tells apart, which the parity gate would show.
                threshold = _float32(node.threshold)
                mode = "BRANCH_LEQ" if node.inclusive else "BRANCH_LT"
                true_node, false_node = node.left, node.right
                feature = column_of[(node.feature, None)]
            else:
                # True branch: membership < 0.5, the category is not in the set.
                threshold, mode = 0.5, "BRANCH_LT"
                inside, outside = (node.left, node.right) if node.members_left \
                    else (node.right, node.left)
                true_node, false_node = outside, inside
                feature = column_of[(node.feature, node.members)]
            nodes["nodes_featureids"].append(feature)
            nodes["nodes_values"].append(threshold)
            nodes["nodes_modes"].append(mode)
            nodes["nodes_truenodeids"].append(true_node)
            nodes["nodes_falsenodeids"].append(false_node)
            nodes["nodes_missing_value_tracks_true"].append(
                int(node.missing_left == (true_node == node.left)))
    return graph.add("TreeEnsembleRegressor", [matrix], "margin", domain="ai.onnx.ml",
                     n_targets=ensemble.targets, aggregate_function="SUM",
                     base_values=[float(b) for b in ensemble.base], post_transform="NONE",
                     **nodes)


def _float32(value: float) -> float:
    with np.errstate(over="ignore"):  # LightGBM's 1e300 "everything" thresholds → ±inf
        return float(np.float32(value))


def _link(graph: _Graph, link: Link, margins: str, output: str) -> None:
    if link == "identity":
        graph.nodes.append(helper.make_node("Identity", [margins], [output], name=output))
    elif link == "exp":
        graph.nodes.append(helper.make_node("Exp", [margins], [output], name=output))
    elif link == "sigmoid":
        graph.nodes.append(helper.make_node("Sigmoid", [margins], [output], name=output))
    elif link == "softmax":
        graph.nodes.append(helper.make_node("Softmax", [margins], [output], name=output,
                                            axis=1))
    else:
        positive = graph.add("Sigmoid", [margins], "p")
        negative = graph.add("Sub", [graph.const(np.ones((1, 1), np.float32), "one"), positive],
                             "q")
        graph.nodes.append(helper.make_node("Concat", [negative, positive], [output],
                                            name=output, axis=1))
