"""The kit's skl2onnx converters (float64 scalers, infrequent one-hot, HistGradientBoosting's
flags) apply inside an import only: a process that imports a model and then trains one
converts the trained model's scalers with skl2onnx's own converter, as a fresh process."""

from __future__ import annotations

from skl2onnx.common._registration import _converter_pool, _shape_calculator_pool

from training.importing.sklearn_converters import kit_converters


def test_the_kits_converters_leave_skl2onnx_as_they_found_it() -> None:
    before = dict(_converter_pool), dict(_shape_calculator_pool)
    with kit_converters():
        assert _converter_pool["SklearnScaler"] is not before[0]["SklearnScaler"]
        assert "FeatherserveImputedScaler" in _converter_pool
    assert (dict(_converter_pool), dict(_shape_calculator_pool)) == before
