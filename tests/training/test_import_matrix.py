"""The import matrix: every case of ``tests.support.import_cases`` is trained here on a
generated table (text categories, missing values in several columns, the case's pandas
dtypes), imported through ``featherserve import``'s code path, and must pass its parity gate
on rows the model never saw: held-out rows, rows with unseen categories, and one row with a
missing value in each column. Cases marked ``served`` then answer through the real handler
with the original model's labels. The README's support table is generated from the same list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from model_runtime import Settings, serve_model
from model_store.manifest import TabularSpec
from tests.support.import_cases import (
    NUMBERS,
    TEXTS,
    ImportCase,
    all_cases,
    mixed_table,
    readme_with_table,
    user_frame,
)
from training.errors import UnsupportedModelError
from training.importing.build import import_model

ROWS, TRAINED = 300, 200
UNSEEN = {"colour": "violet", "region": "atlantis", "grade": "Z"}
CASES = all_cases()
README = Path(__file__).resolve().parents[2] / "README.md"


def unseen_rows(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Held-out rows, then unseen categories (one column at a time, then all), then one row
    with a missing value in each feature column."""
    held = frame.iloc[TRAINED:].reset_index(drop=True)
    extra = []
    for i, (column, value) in enumerate(UNSEEN.items()):
        row = held.iloc[[i]].copy()
        row[column] = value
        extra.append(row)
    extra.append(held.iloc[[5]].assign(**UNSEEN))
    for i, column in enumerate(c for c in frame.columns if c != target):
        row = held.iloc[[10 + i]].copy()
        row[column] = None if column in TEXTS else np.nan
        extra.append(row)
    return pd.concat([held, *extra], ignore_index=True)


def instances(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a client sends them: null where missing, true/false as its text."""
    def value(v: Any) -> Any:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        return float(v) if isinstance(v, (int, float, np.number)) else str(v)

    return [{k: value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def answers(store: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows' predictions through the real handler (API Gateway v2 events, 64 a call)."""
    handler = serve_model("matrix", settings=Settings(model_source=str(store)))
    path = "/models/matrix/predict"
    predictions: list[dict[str, Any]] = []
    for start in range(0, len(rows), 64):
        response = handler({
            "version": "2.0", "routeKey": f"POST {path}", "rawPath": path,
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": path}, "requestId": "t"},
            "body": json.dumps({"instances": rows[start:start + 64]}),
            "isBase64Encoded": False}, None)
        assert response["statusCode"] == 200, response["body"]
        predictions += json.loads(response["body"])["predictions"]
    return predictions


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_imports_with_parity_on_unseen_rows(case: ImportCase, tmp_path: Path) -> None:
    raw, target = mixed_table(case.task, ROWS, seed=7)
    trained = user_frame(raw.iloc[:TRAINED].reset_index(drop=True), case.dtypes)
    model_file = case.train(trained.drop(columns=target), trained[target], tmp_path)
    rest = user_frame(unseen_rows(raw, target), case.dtypes)
    data = tmp_path / "rows.csv"
    rest.to_csv(data, index=False)
    store = tmp_path / "store"

    manifest = import_model("matrix", model_file, data=data, target=target, store_root=store,
                            report_dir=tmp_path / "reports", quick=True)

    assert f"parity on {len(rest)} rows" in manifest.lineage.student
    assert isinstance(manifest.input, TabularSpec)
    kinds = {f.name: f.kind for f in manifest.input.features}
    assert {kinds[c] for c in TEXTS} == {"category"}
    assert {kinds[c] for c in NUMBERS} == {"number"}
    if case.served:  # the user's model on their own rows; the handler on what a client sends
        model = joblib.load(model_file)
        expected = model.predict(rest.drop(columns=target))
        served = answers(store, instances(rest.drop(columns=target)))
        if case.task == "classification":
            assert [p["label"] for p in served] == [str(v) for v in expected]
        else:
            np.testing.assert_allclose([p["value"] for p in served], expected, rtol=1e-4,
                                       atol=1e-4)


def test_function_transformer_is_refused_naming_the_step(tmp_path: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    raw, target = mixed_table("classification", 120, seed=1)
    frame = raw.dropna().reset_index(drop=True)
    model = Pipeline([
        ("prep", ColumnTransformer([
            ("num", make_pipeline(FunctionTransformer(np.log1p)), ["weight"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])])),
        ("model", LogisticRegression(max_iter=300))]).fit(frame.drop(columns=target),
                                                           frame[target])
    joblib.dump(model, tmp_path / "model.joblib")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(UnsupportedModelError) as refused:
        import_model("refused", tmp_path / "model.joblib", data=tmp_path / "rows.csv",
                     target=target, store_root=tmp_path / "store",
                     report_dir=tmp_path / "reports")
    message = str(refused.value)
    assert "step 'prep'" in message and "part 'num'" in message
    assert "functiontransformer" in message and "log1p" in message
    assert "before training" in message


class Doubled(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A user's own transformer: no ONNX converter knows it."""

    def fit(self, x: Any, y: Any = None) -> Doubled:
        return self

    def transform(self, x: Any) -> Any:
        return np.asarray(x, dtype=np.float64) * 2


def test_unknown_custom_step_is_refused_naming_the_step(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    raw, target = mixed_table("regression", 120, seed=3)
    frame = raw[["width", target]]
    model = Pipeline([("double", Doubled()), ("model", Ridge())]).fit(frame[["width"]],
                                                                      frame[target])
    joblib.dump(model, tmp_path / "model.joblib")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(UnsupportedModelError, match=r"step 'double' \(Doubled\): no ONNX "
                                                    r"converter for Doubled"):
        import_model("refused", tmp_path / "model.joblib", data=tmp_path / "rows.csv",
                     target=target, store_root=tmp_path / "store",
                     report_dir=tmp_path / "reports")


def test_readme_support_table_is_the_generated_one() -> None:
    readme = README.read_text()
    assert readme_with_table(readme, CASES) == readme, (
        "the README's import support table differs from the case list; regenerate it with "
        "`python -m tests.support.import_cases`")


def test_matrix_covers_the_families_and_dtypes() -> None:
    assert len(CASES) >= 20
    assert {"default", "object", "category", "nullable"} <= {c.dtypes for c in CASES}
    assert sum(c.served for c in CASES) >= 3
