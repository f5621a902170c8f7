"""The pieces the kit supplies to skl2onnx, over generated data: HistGradientBoosting's
categorical splits (codes in and out of training, negative, NaN) and OneHotEncoder's
infrequent categories (rare, unknown), each converted and run in onnxruntime against
scikit-learn on the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.preprocessing import OneHotEncoder

from training.importing.sklearn_converters import conversion_copy, kit_converters

OPSET = {"": 17, "ai.onnx.ml": 3}
SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True, scope="module")
def _the_kits_converters() -> Iterator[None]:
    """These tests convert single steps with skl2onnx directly, as the import does inside
    ``kit_converters``."""
    with kit_converters():
        yield


def run(graph: Any, feeds: dict[str, Any]) -> list[Any]:
    session = ort.InferenceSession(graph.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return list(session.run(None, feeds))


@SETTINGS
@given(seed=st.integers(0, 2**16), categories=st.integers(2, 12),
       categorical=st.sampled_from([[0], [0, 2], [2]]), missing=st.floats(0, 0.3),
       classify=st.booleans())
def test_histgradientboosting_categorical_splits_match(seed: int, categories: int,
                                                       categorical: list[int], missing: float,
                                                       classify: bool) -> None:
    rng = np.random.default_rng(seed)
    rows = 400
    x = np.c_[rng.integers(0, categories, rows), rng.normal(size=rows),
              rng.integers(0, categories, rows)].astype(np.float64)
    x[rng.random(rows) < missing, 0] = np.nan
    x[rng.random(rows) < missing, 1] = np.nan
    left = rng.choice(categories, size=max(1, categories // 2), replace=False)
    y = (np.isin(x[:, 0], left) ^ (np.nan_to_num(x[:, 1]) > 0) ^ (x[:, 2] % 3 == 0))
    model = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(
        max_iter=15, categorical_features=categorical, random_state=0).fit(x, y.astype(int))
    # Rows it saw, codes it never saw (above its range, negative), NaN in each column.
    probe = np.r_[x[:60], [[categories + 3, 0.1, 1], [-1, 0.2, 0], [np.nan, 1, np.nan],
                           [1, np.nan, categories + 1], [2.0, -0.5, -4]]]
    served = conversion_copy(model)
    graph = convert_sklearn(served, initial_types=[("x", FloatTensorType([None, 3]))],
                            target_opset=OPSET,
                            options={id(served): {"zipmap": False}} if classify else None)
    out = run(graph, {"x": probe.astype(np.float32)})
    got = out[1] if classify else out[0].ravel()
    # Each row as scikit-learn answers it, for the value as written or as float32 (they
    # differ where a value sits on a split point; the graph only has the float32 one).
    gaps = [np.abs(got - (model.predict_proba(rows) if classify else model.predict(rows)))
            .reshape(len(probe), -1).max(axis=1)
            for rows in (probe, probe.astype(np.float32).astype(np.float64))]
    assert np.minimum(*gaps).max() <= 1e-5


@SETTINGS
@given(seed=st.integers(0, 2**16), min_frequency=st.integers(1, 60),
       unknown=st.sampled_from(["infrequent_if_exist", "ignore"]),
       columns=st.integers(1, 3))
def test_one_hot_infrequent_categories_match(seed: int, min_frequency: int, unknown: str,
                                             columns: int) -> None:
    rng = np.random.default_rng(seed)
    words = np.array(["ash", "birch", "cedar", "elm", "fir", "oak", "pine", "yew"])
    weights = rng.dirichlet(np.ones(len(words)) * 0.5)
    table = rng.choice(words, size=(300, columns), p=weights).astype(object)
    encoder = OneHotEncoder(handle_unknown=unknown, min_frequency=min_frequency,
                            sparse_output=False).fit(table)
    probe = np.r_[table[:40], np.full((2, columns), "maple", dtype=object)]
    graph = convert_sklearn(conversion_copy(encoder),
                            initial_types=[("t", StringTensorType([None, columns]))],
                            target_opset=OPSET)
    (out,) = run(graph, {"t": probe})
    np.testing.assert_array_equal(out, encoder.transform(probe))


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_imputed_scaler_is_float64_then_float32(strategy: str) -> None:
    """The fused imputer + scaler rounds once, as scikit-learn does before a tree."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    x = rng.integers(0, 40, (300, 2)).astype(np.float64)
    x[rng.random(300) < 0.2, 0] = np.nan
    pipeline = make_pipeline(SimpleImputer(strategy=strategy), StandardScaler()).fit(x)
    graph = convert_sklearn(conversion_copy(pipeline),
                            initial_types=[("x", FloatTensorType([None, 2]))],
                            target_opset=OPSET)
    (out,) = run(graph, {"x": x.astype(np.float32)})
    np.testing.assert_array_equal(out, pipeline.transform(x).astype(np.float32))
