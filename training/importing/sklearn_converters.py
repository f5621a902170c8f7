"""Converters the kit registers with skl2onnx where its own fall short, through skl2onnx's
registration (the converter pool), once per process.

- HistGradientBoosting*: skl2onnx writes a leaf's "missing goes left" flag as a Python
  ``False`` among integers, which onnx ≥ 1.17 refuses; the same converter runs with the flag
  lists written as integers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_REGISTERED = False


def register_kit_converters() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import RegisteredConverter, _converter_pool
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    for model in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        alias = sklearn_operator_name_map[model]
        existing = _converter_pool[alias]
        _converter_pool[alias] = RegisteredConverter(_integer_flags(existing),
                                                     existing.get_allowed_options())
    _REGISTERED = True


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
