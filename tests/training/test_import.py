"""`featherserve import`: models trained elsewhere, converted with a parity check on the
data file, published and answering through the real handler."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from featherserve import cli
from model_store.local import LocalStore
from tests.support.served import served_answer
from training.errors import ParityError, UnsupportedModelError
from training.importing.build import import_model
from training.importing.parity import check_parity
from training.tabular.bundled import write_bundled_csv
from training.tabular.synthetic import penguins

NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def test_pipeline_with_column_transformer_imports_with_parity(tmp_path):
    frame = penguins(rows=200, seed=4)
    frame.to_csv(tmp_path / "penguins.csv", index=False)
    # Fitted the way the kit serves missing categories: as the empty string.
    x = frame.drop(columns="species").copy()
    x["sex"] = x["sex"].fillna("")
    pipeline = Pipeline([
        ("columns", ColumnTransformer([
            ("numbers", Pipeline([("impute", SimpleImputer(strategy="median")),
                                  ("scale", StandardScaler())]), NUMBERS),
            ("text", Pipeline([("impute", SimpleImputer(missing_values="",
                                                        strategy="constant",
                                                        fill_value="unknown")),
                               ("onehot", OneHotEncoder(handle_unknown="ignore"))]),
             ["island", "sex"])])),
        ("model", LogisticRegression(max_iter=500))]).fit(x, frame["species"])
    joblib.dump(pipeline, tmp_path / "pipeline.joblib")
    store = tmp_path / "store"
    manifest = import_model("penguins", tmp_path / "pipeline.joblib",
                            data=tmp_path / "penguins.csv", target="species", store_root=store,
                            report_dir=tmp_path / "reports")
    assert manifest.input.layout == "columns" and manifest.labels == ("Adelie", "Chinstrap",
                                                                      "Gentoo")
    assert "parity on 200 rows" in manifest.lineage.student
    row = {"island": "Biscoe", "bill_length_mm": 47.0, "bill_depth_mm": 15.0,
           "flipper_length_mm": 218.0, "body_mass_g": None, "sex": None}
    original = pipeline.predict_proba(pd.DataFrame([{**row, "body_mass_g": np.nan,
                                                     "sex": ""}]))[0]
    served = served_answer(store, "penguins", [row])["predictions"][0]
    assert served["label"] == "Gentoo"
    assert served["score"] == pytest.approx(original.max(), abs=1e-4)


@pytest.mark.parametrize(("kind", "data", "target"), [
    ("forest", "wine", "cultivar"), ("boosting", "diabetes", "progression")])
def test_random_forest_and_gradient_boosting_import(tmp_path, kind, data, target):
    csv = write_bundled_csv(data, tmp_path / f"{data}.csv")
    frame = pd.read_csv(csv)
    x, y = frame.drop(columns=target), frame[target]
    model = (RandomForestClassifier(n_estimators=30, random_state=0).fit(x, y)
             if kind == "forest" else
             GradientBoostingRegressor(n_estimators=50, random_state=0).fit(x.to_numpy(), y))
    joblib.dump(model, tmp_path / "model.pkl")
    store = tmp_path / "store"
    code = cli.main(["import", data, str(tmp_path / "model.pkl"), "--data", str(csv),
                     "--target", target, "--store", str(store),
                     "--reports", str(tmp_path / "reports")])
    assert code == 0
    manifest = LocalStore(store).manifest(data)
    first = frame.drop(columns=target).iloc[0].to_dict()
    answer = served_answer(store, data, [first])["predictions"][0]
    if kind == "forest":
        assert answer["label"] == model.predict(x.iloc[:1])[0]
        assert manifest.metrics.per_class_recall
        assert (tmp_path / "reports" / data / "confusion_matrix.png").is_file()
    else:
        assert answer["value"] == pytest.approx(model.predict(x.to_numpy()[:1])[0], rel=1e-4)
        assert manifest.task == "tabular-regression"
        assert (tmp_path / "reports" / data / "residuals.png").is_file()


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_gradient_boosted_libraries_import_in_their_own_formats(tmp_path, library):
    csv = write_bundled_csv("breast_cancer", tmp_path / "bc.csv")
    frame = pd.read_csv(csv)
    x = frame.drop(columns="diagnosis").to_numpy()
    y = (frame["diagnosis"] == "malignant").astype(int)  # LabelEncoder order: benign=0
    if library == "lightgbm":
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(x, y)
        path = tmp_path / "model.txt"
        model.booster_.save_model(str(path))
    else:
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(x, y)
        path = tmp_path / "model.json"
        model.save_model(str(path))
    manifest = import_model("bc", path, data=csv, target="diagnosis",
                            store_root=tmp_path / "store", report_dir=tmp_path / "reports")
    assert manifest.labels == ("benign", "malignant")
    assert manifest.metrics.student_accuracy is not None
    assert manifest.metrics.student_accuracy > 0.9
    rows = frame.drop(columns="diagnosis").iloc[:3].to_dict(orient="records")
    labels = [p["label"] for p in served_answer(tmp_path / "store", "bc", rows)["predictions"]]
    assert labels == list(frame["diagnosis"].iloc[:3])


def test_unsupported_estimator_is_named_and_nothing_published(tmp_path, capsys):
    csv = write_bundled_csv("iris", tmp_path / "iris.csv")
    frame = pd.read_csv(csv)
    model = Pipeline([("scale", StandardScaler()), ("knn", _Custom())])
    model.fit(frame.drop(columns="species"), frame["species"])
    joblib.dump(model, tmp_path / "model.joblib")
    code = cli.main(["import", "iris", str(tmp_path / "model.joblib"), "--data", str(csv),
                     "--target", "species", "--store", str(tmp_path / "store")])
    assert code != 0
    assert "no ONNX converter for _Custom" in capsys.readouterr().err
    assert LocalStore(tmp_path / "store").versions("iris") == []
    with pytest.raises(UnsupportedModelError, match="_Custom"):
        import_model("iris", tmp_path / "model.joblib", data=csv, target="species",
                     store_root=tmp_path / "store")


class _Custom(KNeighborsClassifier):
    """A user's own estimator class: no converter knows it."""


def test_parity_failure_shows_the_worst_rows():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    original = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    converted = np.array([[0.9, 0.1], [0.7, 0.3], [0.5, 0.5]], dtype=np.float32)
    with pytest.raises(ParityError, match=r"disagrees with the original on 1 of 3 rows") as info:
        check_parity("m", original, converted, frame, regression=False)
    assert "a=2.0" in str(info.value) and "0.2, 0.8" in str(info.value)
