"""Converters the kit registers with skl2onnx where its own fall short, through skl2onnx's
registration (the converter pool), once per process.

- HistGradientBoosting*: skl2onnx writes a leaf's "missing goes left" flag as a Python
  ``False`` among integers, which onnx ≥ 1.17 refuses; the same converter runs with the flag
  lists written as integers.
- StandardScaler, MinMaxScaler, RobustScaler: computed in float64 and rounded once to
  float32, as scikit-learn computes them before a tree casts its input to float32. In
  float32 arithmetic a value can land one float32 step away, and a tree whose threshold
  lies between two training values that close (whole numbers, imputed values) then takes
  the other branch.
- OneHotEncoder with infrequent categories (``min_frequency``/``max_categories``): each
  text column is looked up to its output column (rare categories, and unknown ones with
  ``handle_unknown="infrequent_if_exist"``, to the "infrequent" column) and compared with
  the column numbers; skl2onnx's own handles infrequent categories only column by column
  and fails on unknown values.
- ``ImputedScaler``: a numeric SimpleImputer and the scaler after it, as one step computed in
  float64 (``fuse_imputed_scalers`` rewrites the fitted copy the graph is converted from), so
  an imputed median is scaled at full precision as in scikit-learn, not rounded to float32
  between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class ImputedScaler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted numeric SimpleImputer followed by a fitted scaler (conversion only)."""

    def __init__(self, imputer: Any, scaler: Any) -> None:
        self.imputer, self.scaler = imputer, scaler

    def transform(self, x: Any) -> Any:
        return self.scaler.transform(self.imputer.transform(x))


def conversion_copy(model: Any) -> Any:
    """A copy of the fitted model in the form the registered converters take; it predicts
    what the model predicts (each rewrite below says why)."""
    import copy

    from training.importing.sklearn_hgb import (
        expand_categorical_splits,
        split_own_preprocessing,
    )

    converted = split_own_preprocessing(copy.deepcopy(model))
    converter_ready(converted)
    fuse_imputed_scalers(converted)
    expand_categorical_splits(converted)
    return converted
def converter_ready(model: Any) -> None:
    """Fitted attributes skl2onnx reads in an older form, given that form (same predictions):
    a soft VotingClassifier's ``flatten_transform`` off (it shapes ``transform`` only)."""
    from sklearn.ensemble import VotingClassifier

    from training.importing.sklearn_support import named_steps

    for _path, step in named_steps(model):
        if isinstance(step, VotingClassifier):
            step.flatten_transform = False


def fuse_imputed_scalers(model: Any) -> None:
    """In every Pipeline of the fitted copy: SimpleImputer(NaN) → scaler becomes one step."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    from training.importing.sklearn_support import named_steps

    scalers = (StandardScaler, MinMaxScaler, RobustScaler)
    for _path, step in list(named_steps(model)):
        steps = getattr(step, "steps", None)
        if not steps:
            continue
        i = 0
        while i < len(steps) - 1:
            (name, first), (_, second) = steps[i], steps[i + 1]
            if (isinstance(first, SimpleImputer) and isinstance(second, scalers)
                    and isinstance(first.missing_values, float)
                    and np.isnan(first.missing_values) and not first.add_indicator
                    and first.statistics_.dtype.kind == "f"
                    and len(first.statistics_) == second.n_features_in_):
                steps[i:i + 2] = [(name, ImputedScaler(first, second))]
            i += 1


@contextmanager
def kit_converters() -> Iterator[None]:
    """The kit's converters for one conversion, scikit-learn's own again after it: left in
    skl2onnx's pools for good, they would change every later graph the process converts
    (`featherserve train tabular`'s scalers included)."""
    from skl2onnx.common._registration import _converter_pool, _shape_calculator_pool

    converters, shapes = dict(_converter_pool), dict(_shape_calculator_pool)
    _install_kit_converters()
    try:
        yield
    finally:
        _converter_pool.clear()
        _converter_pool.update(converters)
        _shape_calculator_pool.clear()
        _shape_calculator_pool.update(shapes)


def _install_kit_converters() -> None:
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import RegisteredConverter, _converter_pool
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    replaced: dict[type, Callable[[Any], Any]] = {
        HistGradientBoostingClassifier: _integer_flags,
        HistGradientBoostingRegressor: _integer_flags,
        StandardScaler: lambda _: _affine_in_double(_standard),
        MinMaxScaler: lambda _: _affine_in_double(_min_max),
        RobustScaler: lambda _: _affine_in_double(_robust),
    }
    for model, make in replaced.items():
        alias = sklearn_operator_name_map[model]
        existing = _converter_pool[alias]
        _converter_pool[alias] = RegisteredConverter(make(existing),
                                                     existing.get_allowed_options())
    from skl2onnx import update_registered_converter
    from skl2onnx.common._registration import _shape_calculator_pool
    from sklearn.preprocessing import OneHotEncoder

    alias = sklearn_operator_name_map[OneHotEncoder]
    existing = _converter_pool[alias]
    _converter_pool[alias] = RegisteredConverter(_infrequent_one_hot(existing),
                                                 existing.get_allowed_options())
    _shape_calculator_pool[alias] = _infrequent_width(_shape_calculator_pool[alias])

    update_registered_converter(ImputedScaler, "FeatherserveImputedScaler", _same_width,
                                _imputed_scaler)


def _same_width(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    rows, width = operator.inputs[0].get_first_dimension(), \
        operator.inputs[0].get_second_dimension()
    operator.outputs[0].type = FloatTensorType([rows, width])


_SCALER_STEPS: dict[str, Callable[[Any], Steps]] = {}


def _imputed_scaler(scope: Any, operator: Any, container: Any) -> None:
    fused = operator.raw_operator
    steps = _SCALER_STEPS[type(fused.scaler).__name__](fused.scaler)
    _double_chain(scope, operator, container, steps,
                  fill=np.asarray(fused.imputer.statistics_, dtype=np.float64))


Steps = list[tuple[str, Any]]


def _standard(op: Any) -> Steps:
    return ([("Sub", op.mean_)] if op.with_mean and op.mean_ is not None else []) + \
        ([("Div", op.scale_)] if op.with_std and op.scale_ is not None else [])


def _min_max(op: Any) -> Steps:
    steps: Steps = [("Mul", op.scale_), ("Add", op.min_)]
    if op.clip:
        steps += [("Max", np.full_like(op.min_, op.feature_range[0])),
                  ("Min", np.full_like(op.min_, op.feature_range[1]))]
    return steps


def _robust(op: Any) -> Steps:
    return ([("Sub", op.center_)] if op.with_centering else []) + \
        ([("Div", op.scale_)] if op.with_scaling else [])


def _affine_in_double(steps_of: Callable[[Any], Steps]) -> Callable[..., Any]:
    """A scaler as scikit-learn computes it: in float64, element-wise, in its own order."""
    def convert(scope: Any, operator: Any, container: Any) -> None:
        _double_chain(scope, operator, container, steps_of(operator.raw_operator))

    return convert


def _double_chain(scope: Any, operator: Any, container: Any, steps: Steps,
                  fill: Any = None) -> None:
    """Cast to float64, fill NaN with ``fill`` (if given), apply ``steps``, cast back."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    current = scope.get_unique_variable_name("as_double")
    container.add_node("Cast", [operator.inputs[0].full_name], [current],
                       to=TensorProto.DOUBLE, name=scope.get_unique_operator_name("Cast"))
    if fill is not None:
        values = scope.get_unique_variable_name("fill")
        container.add_initializer(values, TensorProto.DOUBLE, [1, len(fill)],
                                  fill.tolist())
        missing = scope.get_unique_variable_name("missing")
        container.add_node("IsNaN", [current], [missing],
                           name=scope.get_unique_operator_name("IsNaN"))
        filled = scope.get_unique_variable_name("filled")
        container.add_node("Where", [missing, values, current], [filled],
                           name=scope.get_unique_operator_name("Where"))
        current = filled
    for op_type, values in steps:
        constant = scope.get_unique_variable_name(op_type.lower())
        flat = np.asarray(values, dtype=np.float64).ravel()
        container.add_initializer(constant, TensorProto.DOUBLE, [len(flat)], flat.tolist())
        out = scope.get_unique_variable_name("scaled")
        container.add_node(op_type, [current, constant], [out],
                           name=scope.get_unique_operator_name(op_type))
        current = out
    to = (TensorProto.DOUBLE if isinstance(operator.outputs[0].type, DoubleTensorType)
          else TensorProto.FLOAT)
    container.add_node("Cast", [current], [operator.outputs[0].full_name], to=to,
                       name=scope.get_unique_operator_name("Cast"))


def _has_infrequent(op: Any) -> bool:
    return bool(getattr(op, "_infrequent_enabled", False)) and getattr(
        op, "drop_idx_", None) is None


def _output_columns(op: Any, j: int) -> tuple[list[int], int, int]:
    """Column ``j``'s category → output column, the width, and where an unknown goes."""
    width = len(op._compute_transformed_categories(j))
    mapping = op._default_to_infrequent_mappings[j]
    if mapping is None:
        return list(range(len(op.categories_[j]))), width, -1
    unknown = width - 1 if op.handle_unknown == "infrequent_if_exist" else -1
    return [int(v) for v in mapping], width, unknown


def _infrequent_width(calculator: Callable[[Any], None]) -> Callable[[Any], None]:
    def calculate(operator: Any) -> None:
        calculator(operator)
        op = operator.raw_operator
        if _has_infrequent(op):
            width = sum(_output_columns(op, j)[1] for j in range(len(op.categories_)))
            operator.outputs[0].type = operator.outputs[0].type.__class__(
                [operator.inputs[0].get_first_dimension(), width])

    return calculate


def _infrequent_one_hot(converter: Callable[..., Any]) -> Callable[..., Any]:
    def convert(scope: Any, operator: Any, container: Any) -> Any:
        from onnx import TensorProto
        from skl2onnx.common.data_types import Int64TensorType, StringTensorType

        op = operator.raw_operator
        if not _has_infrequent(op) or not all(isinstance(i.type, StringTensorType)
                                               for i in operator.inputs):
            return converter(scope, operator, container)
        names = [i.full_name for i in operator.inputs]
        table = names[0]
        if len(names) > 1:
            table = scope.get_unique_variable_name("text_columns")
            container.add_node("Concat", names, [table], axis=1,
                               name=scope.get_unique_operator_name("Concat"))
        blocks = []
        for j, categories in enumerate(op.categories_):
            outputs, width, unknown = _output_columns(op, j)
            index = scope.get_unique_variable_name("column_index")
            container.add_initializer(index, TensorProto.INT64, [1], [j])
            column = scope.get_unique_variable_name("column")
            container.add_node("Gather", [table, index], [column], axis=1,
                               name=scope.get_unique_operator_name("Gather"))
            position = scope.get_unique_variable_name("output_column")
            container.add_node("LabelEncoder", [column], [position],
                               keys_strings=[str(c) for c in categories],
                               values_int64s=outputs, default_int64=unknown,
                               op_domain="ai.onnx.ml", op_version=2,
                               name=scope.get_unique_operator_name("LabelEncoder"))
            numbers = scope.get_unique_variable_name("column_numbers")
            container.add_initializer(numbers, TensorProto.INT64, [width],
                                      list(range(width)))
            hit = scope.get_unique_variable_name("one_hot")
            container.add_node("Equal", [position, numbers], [hit],
                               name=scope.get_unique_operator_name("Equal"))
            block = scope.get_unique_variable_name("one_hot_block")
            to = (TensorProto.INT64 if isinstance(operator.outputs[0].type, Int64TensorType)
                  else TensorProto.FLOAT)
            container.add_node("Cast", [hit], [block], to=to,
                               name=scope.get_unique_operator_name("Cast"))
            blocks.append(block)
        container.add_node("Concat", blocks, [operator.outputs[0].full_name], axis=1,
                           name=scope.get_unique_operator_name("Concat"))
        return None

    return convert


def _integer_flags(converter: Callable[..., Any]) -> Callable[..., Any]:
    def convert(scope: Any, operator: Any, container: Any) -> Any:
        add_node = container.add_node

        def add_integer_node(op_type: str, inputs: Any, outputs: Any, op_domain: str = "",
                             op_version: int | None = None, name: str | None = None,
                             **attrs: Any) -> Any:
            attrs = {key: [int(v) if isinstance(v, (bool, np.bool_)) else v for v in value]
                     if isinstance(value, list) else value for key, value in attrs.items()}
            return add_node(op_type, inputs, outputs, op_domain=op_domain,
                            op_version=op_version, name=name, **attrs)

        container.add_node = add_integer_node
        try:
            return converter(scope, operator, container)
        finally:
            del container.add_node  # the instance attribute; the class's method shows again

    return convert


_SCALER_STEPS.update(StandardScaler=_standard, MinMaxScaler=_min_max, RobustScaler=_robust)
