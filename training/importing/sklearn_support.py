"""What in a fitted scikit-learn model cannot become ONNX, named by its path in the model.

A refusal names the step the way the user wrote it (``Pipeline step 'prep' → ColumnTransformer
part 'num' → step 'log' (FunctionTransformer)``) and says what to change, before skl2onnx
fails with its own message on the first piece it lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from training.errors import UnsupportedModelError

CHANGE = ("refit with a supported step (skl2onnx lists them; the README's import table shows "
          "what the kit checks), or export the model to ONNX yourself and import the .onnx "
          "file")


def named_steps(model: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every step of the model with its path, outermost first."""
    here = path or type(model).__name__
    yield here, model
    for name, step in getattr(model, "steps", []):
        if not isinstance(step, str) and step is not None:
            yield from named_steps(step, f"{here} → step {name!r} ({type(step).__name__})")
    parts = getattr(model, "transformers_", None) or getattr(model, "transformers", [])
    for name, part, _columns in parts:
        if not isinstance(part, str):
            yield from named_steps(part, f"{here} → part {name!r} ({type(part).__name__})")
    for name, estimator in getattr(model, "estimators", []) or []:
        if not isinstance(estimator, str):
            yield from named_steps(estimator,
                                   f"{here} → estimator {name!r} ({type(estimator).__name__})")


def check_supported(model: Any) -> None:
    """Raise naming each step that has no converter or runs arbitrary Python."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from sklearn.preprocessing import FunctionTransformer

    problems = []
    for path, step in named_steps(model):
        if isinstance(step, FunctionTransformer) and step.func is not None:
            func = getattr(step.func, "__name__", type(step.func).__name__)
            problems.append(f"{path} runs Python ({func}), which ONNX cannot hold: do that "
                            "change in the data before training, or replace it with a "
                            "scikit-learn transformer (e.g. PowerTransformer, "
                            "SplineTransformer)")
        elif type(step) not in sklearn_operator_name_map:
            problems.append(f"{path}: no ONNX converter for {type(step).__name__}")
    if problems:
        raise UnsupportedModelError("cannot import: " + "; ".join(problems) + f". {CHANGE}")
