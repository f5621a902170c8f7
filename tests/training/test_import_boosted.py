"""Boosted trees with native categorical columns: the converted graph against the library
over generated tables (category counts, missing shares, classes), early stopping and binary
targets through the real handler, and CatBoost's CTR models refused with what to change.
The matrix cases themselves live in ``tests/support/import_cases_boosted.py``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.import_cases import TEXTS, mixed_table
from tests.support.served import served_answer
from training.errors import UnsupportedModelError
from training.importing.build import import_model
from training.importing.convert import convert
from training.importing.loaders import load_model_file
from training.tabular.preprocess import onnx_feeds
from training.tabular.table import read_table

LIBRARIES = ("xgboost", "lightgbm", "catboost")
# ai.onnx.ml opset 3 and these standard operators: what onnxruntime-web runs too.
OPERATORS = {"Reshape", "LabelEncoder", "Gather", "Concat", "Slice", "TreeEnsembleRegressor",
             "Identity", "Softmax", "Sigmoid", "Sub", "Exp", "Greater", "LessOrEqual", "Not",
             "Cast", "Mul", "Add"}


def _table(seed: int, rows: int, categories: int, missing: float, classes: int
           ) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = [f"c{i:02d}" for i in range(categories)]
    frame = pd.DataFrame({"size": rng.normal(0, 1, rows).round(3),
                          "kind": rng.choice(names, rows),
                          "shade": rng.choice(["dark", "light"], rows),
                          "count": rng.integers(0, 9, rows).astype(float)})
    effect = dict(zip(names, rng.normal(0, 1.5, categories), strict=True))
    signal = frame["size"] + frame["kind"].map(effect) + (frame["shade"] == "dark") * 0.7
    for column in frame.columns:
        frame[column] = frame[column].astype(object).where(rng.random(rows) >= missing, None)
    if classes:
        edges = np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])
        frame["y"] = [f"k{int(np.searchsorted(edges, v))}" for v in signal]
    else:
        frame["y"] = (signal * 10).round(3)
    return frame


def _fit(library: str, x: pd.DataFrame, y: pd.Series, classes: int, folder: Path) -> Path:
    x = x.copy()
    x["size"], x["count"] = x["size"].astype(float), x["count"].astype(float)
    if library == "catboost":
        import catboost

        for column in ("kind", "shade"):
            x[column] = x[column].where(x[column].notna(), "nan").astype(str)
        kind = catboost.CatBoostClassifier if classes else catboost.CatBoostRegressor
        # one-hot for a few categories, target statistics (CTRs) above: CatBoost's default
        model: Any = kind(iterations=15, depth=3, verbose=0, cat_features=["kind", "shade"],
                          thread_count=1, train_dir=str(folder / "catboost_info"))
        model.fit(x, y)
        model.save_model(str(folder / "model.cbm"))
        return folder / "model.cbm"
    for column in ("kind", "shade"):
        x[column] = x[column].astype("category")
    if library == "xgboost":
        import xgboost

        target = np.searchsorted(sorted(set(y)), y) if classes else y
        kind = xgboost.XGBClassifier if classes else xgboost.XGBRegressor
        model = kind(n_estimators=15, max_depth=3, enable_categorical=True,
                     tree_method="hist", max_cat_to_onehot=2, n_jobs=1)
        model.fit(x, target)
    else:
        import lightgbm

        kind = lightgbm.LGBMClassifier if classes else lightgbm.LGBMRegressor
        model = kind(n_estimators=15, num_leaves=7, min_child_samples=3,
                     min_data_per_group=3, cat_smooth=1, verbose=-1, n_jobs=1)
        model.fit(x, y)
    joblib.dump(model, folder / "model.joblib")
    return folder / "model.joblib"


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(library=st.sampled_from(LIBRARIES), seed=st.integers(0, 1000),
       categories=st.integers(1, 25), missing=st.sampled_from([0.0, 0.05, 0.3]),
       classes=st.sampled_from([0, 2, 3]))
def test_graph_matches_the_library_over_generated_tables(
        tmp_path: Path, library: str, seed: int, categories: int, missing: float,
        classes: int) -> None:
    frame = _table(seed, 160, categories, missing, classes)
    if classes and frame["y"].nunique() < 2:
        return
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis replays examples
    model_file = _fit(library, frame.iloc[:120].drop(columns="y"), frame["y"].iloc[:120],
                      classes, folder)
    rest = frame.iloc[120:].copy()
    rest.loc[rest.index[:3], "kind"] = ["never-seen", None, "c99"]
    rest.loc[rest.index[3], "size"] = None
    rest.to_csv(folder / "rows.csv", index=False)
    table = read_table(folder / "rows.csv", "y")
    imported = load_model_file(model_file)
    converted = convert(imported, table, regression=not classes)
    assert isinstance(converted.model, onnx.ModelProto)
    assert {n.op_type for n in converted.model.graph.node} <= OPERATORS
    session = ort.InferenceSession(converted.model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    served = session.run([converted.output_name],
                         onnx_feeds(table.frame, converted.layout, table))[0]
    assert converted.original is not None
    expected = converted.original(table.frame)
    np.testing.assert_allclose(np.asarray(served, np.float64).reshape(expected.shape), expected,
                               atol=1e-4, rtol=1e-4)


def _served_labels(store: Path, name: str, rows: list[dict[str, Any]]) -> list[str]:
    return [p["label"] for p in served_answer(store, name, rows)["predictions"]]


def _instances(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
             for k, v in row.items()} for row in frame.to_dict("records")]


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_binary_model_with_early_stopping_answers_like_the_library(
        tmp_path: Path, library: str) -> None:
    raw, target = mixed_table("classification", 320, seed=3)
    raw[target] = np.where(raw[target] == "high", "yes", "no")
    x = raw.drop(columns=target)
    for column in TEXTS:
        x[column] = x[column].astype("category")
    y = (raw[target] == "yes").astype(int)
    fit, valid = slice(0, 200), slice(200, 260)
    if library == "xgboost":
        import xgboost

        model: Any = xgboost.XGBClassifier(n_estimators=300, learning_rate=0.3, max_depth=4,
                                           enable_categorical=True, tree_method="hist",
                                           early_stopping_rounds=5)
        model.fit(x[fit], y[fit], eval_set=[(x[valid], y[valid])], verbose=False)
        assert model.best_iteration < 299
        model.save_model(str(tmp_path / "model.json"))
        model_file = tmp_path / "model.json"
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=300, learning_rate=0.3, num_leaves=15,
                                        min_child_samples=5, verbose=-1)
        model.fit(x[fit], y[fit], eval_set=[(x[valid], y[valid])],
                  callbacks=[lightgbm.early_stopping(5, verbose=False)])
        assert model.best_iteration_ < 300
        model.booster_.save_model(str(tmp_path / "model.txt"))
        model_file = tmp_path / "model.txt"
    held = raw.iloc[260:].reset_index(drop=True)
    for i, column in enumerate(c for c in held.columns if c != target):  # one missing each
        held.loc[i, column] = None
    held.to_csv(tmp_path / "rows.csv", index=False)
    store = tmp_path / "store"

    manifest = import_model("boosted", model_file, data=tmp_path / "rows.csv", target=target,
                            store_root=store, report_dir=tmp_path / "reports", quick=True)

    assert manifest.labels == ("no", "yes") and manifest.input.layout == "columns"
    features = held.drop(columns=target)
    frame = features.copy()
    for column in TEXTS:
        frame[column] = pd.Categorical(frame[column], categories=x[column].cat.categories)
    for column in ("length", "width", "weight", "age"):
        frame[column] = frame[column].astype(float)
    expected = ["yes" if p == 1 else "no" for p in model.predict(frame)]
    assert _served_labels(store, "boosted", _instances(features)) == expected


def test_catboost_target_statistics_over_combinations_answer_like_catboost(
        tmp_path: Path) -> None:
    import catboost

    raw, target = mixed_table("classification", 460, seed=7)
    # Only a combination of two columns tells the classes apart: CatBoost's CTRs over
    # (colour, region) and over a category with number bits.
    raw[target] = np.where((raw["colour"] == "red") ^ raw["region"].isin(["north", "east"]),
                           "x", np.where(raw["grade"] == "A", "y", "z"))
    x = raw.iloc[:400].drop(columns=target)
    for column in TEXTS:
        x[column] = x[column].astype(object).where(x[column].notna(), "missing")
    model = catboost.CatBoostClassifier(iterations=150, depth=6, verbose=0, thread_count=1,
                                        allow_writing_files=False, cat_features=list(TEXTS),
                                        max_ctr_complexity=4)
    model.fit(x, raw[target].iloc[:400])
    model.save_model(str(tmp_path / "model.cbm"))
    model.save_model(str(tmp_path / "model.json"), format="json")
    ctrs = json.loads((tmp_path / "model.json").read_text())["features_info"]["ctrs"]
    assert any(len(c["elements"]) > 1 for c in ctrs)  # combinations are what is tested
    held = raw.iloc[400:].reset_index(drop=True)
    for i, column in enumerate(c for c in held.columns if c != target):  # one missing each
        held.loc[i, column] = None
    held.to_csv(tmp_path / "rows.csv", index=False)
    store = tmp_path / "store"

    import_model("ctr", tmp_path / "model.cbm", data=tmp_path / "rows.csv", target=target,
                 store_root=store, report_dir=tmp_path / "reports", quick=True)

    features = held.drop(columns=target)
    filled = features.copy()
    for column in TEXTS:
        filled[column] = filled[column].astype(object).where(filled[column].notna(), "missing")
    expected = [str(v) for v in model.predict(filled).ravel()]
    assert _served_labels(store, "ctr", _instances(features)) == expected


def test_catboost_ctr_over_too_many_combinations_is_refused_saying_what_to_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import catboost

    import training.importing.boosted_catboost_ctr as ctr

    monkeypatch.setattr(ctr, "MAX_TABLE", 3)  # fewer than one column's categories
    raw, target = mixed_table("classification", 200, seed=5)
    x = raw.drop(columns=target)
    for column in TEXTS:
        x[column] = x[column].astype(object).where(x[column].notna(), "missing")
    model = catboost.CatBoostClassifier(iterations=10, depth=3, verbose=0, thread_count=1,
                                        allow_writing_files=False, cat_features=list(TEXTS))
    model.fit(x, raw[target])
    model.save_model(str(tmp_path / "model.cbm"))
    raw.to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(UnsupportedModelError) as refused:
        import_model("ctr", tmp_path / "model.cbm", data=tmp_path / "rows.csv", target=target,
                     store_root=tmp_path / "store", report_dir=tmp_path / "reports")
    assert "max_ctr_complexity" in str(refused.value)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


@pytest.mark.parametrize(("objective", "task"), [
    ("multi:softmax", "classification"), ("binary:logitraw", "classification"),
    ("count:poisson", "regression"), ("reg:gamma", "regression")])
def test_xgboost_objectives_whose_predict_is_not_a_probability(
        tmp_path: Path, objective: str, task: str) -> None:
    import xgboost

    raw, target = mixed_table(task, 300, seed=2)  # type: ignore[arg-type]
    if objective.startswith("binary"):
        raw[target] = np.where(raw[target] == "high", "yes", "no")
    if task == "regression":
        raw[target] = raw[target].clip(lower=1)  # gamma and poisson take positive targets
    x = raw.drop(columns=target)
    for column in TEXTS:
        x[column] = x[column].astype("category")
    y = np.searchsorted(sorted(set(raw[target])), raw[target]) if task == "classification" \
        else raw[target]
    params: dict[str, Any] = {"objective": objective, "tree_method": "hist", "max_depth": 3}
    if objective == "multi:softmax":
        params["num_class"] = 3
    booster = xgboost.train(params, xgboost.DMatrix(x.iloc[:200], label=y[:200],
                                                    enable_categorical=True), 20)
    booster.save_model(str(tmp_path / "model.json"))
    raw.iloc[200:].to_csv(tmp_path / "rows.csv", index=False)
    manifest = import_model("objective", tmp_path / "model.json", data=tmp_path / "rows.csv",
                            target=target, store_root=tmp_path / "store",
                            report_dir=tmp_path / "reports", quick=True)
    assert "parity on 100 rows" in manifest.lineage.student
    assert manifest.task == f"tabular-{task}"


def _store_table(rows: int = 300) -> pd.DataFrame:
    """A categorical column whose values are numbers (a store id), as a CSV holds it."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(0, 1, rows).round(3),
                          "store": rng.integers(1, 7, rows)})
    frame["y"] = np.where(frame["size"] + (frame["store"] % 3 == 0) * 1.5 > 0.5, "a", "b")
    frame.loc[rng.random(rows) < 0.1, "size"] = np.nan
    return frame


@pytest.mark.parametrize("how", ["xgboost category", "lightgbm category", "lightgbm codes",
                                 "lightgbm codes, numpy"])
def test_categories_that_are_numbers_import_with_parity(tmp_path: Path, how: str) -> None:
    import lightgbm
    import xgboost

    frame = _store_table()
    x, y = frame.drop(columns="y"), (frame["y"] == "b").astype(int)
    as_category = x.assign(store=x["store"].astype("category"))
    if how == "xgboost category":
        model: Any = xgboost.XGBClassifier(n_estimators=20, enable_categorical=True,
                                           tree_method="hist").fit(as_category[:200], y[:200])
        joblib.dump(model, tmp_path / "model.joblib")
        model_file = tmp_path / "model.joblib"
    elif how == "lightgbm category":
        model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, min_data_per_group=5,
                                        cat_smooth=1).fit(as_category[:200], y[:200])
        joblib.dump(model, tmp_path / "model.joblib")
        model_file = tmp_path / "model.joblib"
    else:  # categorical_feature=[...] on integer codes, as LightGBM's docs also teach
        data = x.to_numpy()[:200] if how.endswith("numpy") else x[:200]
        declared: list[Any] = [1] if how.endswith("numpy") else ["store"]
        booster = lightgbm.train({"objective": "binary", "verbose": -1,
                                  "min_data_per_group": 5, "cat_smooth": 1},
                                 lightgbm.Dataset(data, label=y[:200],
                                                  categorical_feature=declared), 20)
        booster.save_model(str(tmp_path / "model.txt"))
        model_file = tmp_path / "model.txt"
    rest = frame.iloc[200:].copy()
    rest.iloc[0, 1], rest.iloc[1, 1] = 9, np.nan  # a store never seen, a missing one
    rest.to_csv(tmp_path / "rows.csv", index=False)
    table = read_table(tmp_path / "rows.csv", "y")
    converted = convert(load_model_file(model_file), table, regression=False)
    assert isinstance(converted.model, onnx.ModelProto)
    assert "LabelEncoder" in {n.op_type for n in converted.model.graph.node}  # splits on store
    manifest = import_model("stores", model_file, data=tmp_path / "rows.csv", target="y",
                            store_root=tmp_path / "store", report_dir=tmp_path / "reports",
                            quick=True)
    assert "parity on 100 rows" in manifest.lineage.student


WEB_RUNNER = """
import * as ort from "%s";
import { readFileSync } from "node:fs";
ort.env.wasm.numThreads = 1;
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const answers = [];
for (const model of job.models) {
  const session = await ort.InferenceSession.create(readFileSync(model),
                                                    { executionProviders: ["wasm"] });
  const rows = [];
  for (const row of job.rows) {
    const feeds = {};
    for (const name of session.inputNames) {
      const v = row[name];
      feeds[name] = typeof v === "string" ? new ort.Tensor("string", [v], [1, 1])
        : new ort.Tensor("float32", Float32Array.from([v === null ? NaN : v]), [1, 1]);
    }
    const out = await session.run(feeds);
    rows.push(Array.from(out[session.outputNames[0]].data));
  }
  answers.push(rows);
}
console.log(JSON.stringify(answers));
"""


def test_the_browser_demo_runtime_computes_the_same_graphs(tmp_path: Path) -> None:
    """onnxruntime-web (the demo page's engine) runs the boosted graphs, categorical lookups
    included, to the same numbers as onnxruntime: served the same in the browser."""
    from featherserve.support.processes import ROOT, run_cli, tool_env

    frame = _table(4, 200, 12, 0.1, 3)
    models, sessions = [], []
    for library in LIBRARIES:
        folder = tmp_path / library
        folder.mkdir()
        model_file = _fit(library, frame.iloc[:150].drop(columns="y"), frame["y"].iloc[:150],
                          3, folder)
        frame.iloc[150:].to_csv(folder / "rows.csv", index=False)
        import_model(library, model_file, data=folder / "rows.csv", target="y",
                     store_root=tmp_path / "store", report_dir=tmp_path / "reports",
                     quick=True)
        path = tmp_path / "store" / library / "1" / "model.onnx"
        models.append(str(path))
        sessions.append(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
    rows = [{k: (v if isinstance(v, str) else "" if v is None and k in ("kind", "shade")
                 else None if v is None else float(v)) for k, v in row.items() if k != "y"}
            for row in frame.iloc[150:].to_dict("records")]
    (tmp_path / "job.json").write_text(json.dumps({"models": models, "rows": rows}))
    runner = tmp_path / "runner.mjs"
    runner.write_text(WEB_RUNNER % (ROOT / "node_modules/onnxruntime-web/dist/ort.node.min.mjs"))
    result = run_cli(["node", str(runner), str(tmp_path / "job.json")], env=tool_env(),
                     timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for session, web in zip(sessions, json.loads(result.stdout), strict=True):
        feeds = {i.name: np.array([[r[i.name] if r[i.name] is not None else np.nan]
                                   for r in rows],
                                  dtype=object if i.type == "tensor(string)" else np.float32)
                 for i in session.get_inputs()}
        expected = session.run(None, feeds)[0]
        np.testing.assert_allclose(np.asarray(web, np.float64), expected, atol=1e-6)
