"""XGBoost and LightGBM scikit-learn wrappers as the last step of a scikit-learn Pipeline
(after a ColumnTransformer, so on numbers): onnxmltools' converters, registered with
skl2onnx the way skl2onnx's documentation shows, so the Pipeline converts as one graph."""

from __future__ import annotations

from typing import Any

_REGISTERED = False


def register_boosted_converters() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    try:
        import lightgbm
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    except ImportError:  # the library is not installed: nothing of it to convert
        pass
    else:
        _register("LightGbm", lightgbm.LGBMClassifier, lightgbm.LGBMRegressor,
                  convert_lightgbm, regressor_options={"split": None})
    try:
        import xgboost
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    except ImportError:
        pass
    else:
        _register("XGBoost", xgboost.XGBClassifier, xgboost.XGBRegressor, convert_xgboost)
    _REGISTERED = True


def _register(library: str, classifier: type, regressor: type, converter: Any,
              regressor_options: dict[str, Any] | None = None) -> None:
    """One library's classifier and regressor wrappers, under onnxmltools' aliases
    (``<library><class name>``), with its converter and skl2onnx's shape calculators."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(classifier, f"{library}{classifier.__name__}",
                                calculate_linear_classifier_output_shapes, converter,
                                options={"nocl": [True, False],
                                         "zipmap": [True, False, "columns"]})
    update_registered_converter(regressor, f"{library}{regressor.__name__}",
                                calculate_linear_regressor_output_shapes, converter,
                                options=regressor_options)
