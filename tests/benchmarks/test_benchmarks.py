"""``python -m benchmarks --quick`` end to end, on stand-in models and teachers built here.

Only ratios measured in the same run are asserted, with margins wide enough for a busy
two-core machine; absolute times never are. The cold-start ratios are asserted against
both floors of the same run (plain, and like for like), in the virtualenv and packaged.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.goals import LIKE_FOR_LIKE_LIMIT, PLAIN_FLOOR_LIMIT
from benchmarks.packaged import find_python312
from featherserve.support.processes import ROOT, run_cli, tool_env

pytestmark = pytest.mark.perf

BREAST_CANCER_LABELS = ("malignant", "benign")
DIGIT_LABELS = tuple(str(d) for d in range(10))
# Cold start ÷ floor, same run: what three samples on a shared two-core machine can show
# stays under these. Issue 13's goals themselves (1.0× the plain floor, 1.15× the like-for-
# like one: benchmarks/goals.py) are judged by `make bench` on 15 interleaved samples, which
# measured 1.2-1.9× and 1.4-2.2× (handler + Powertools + Pillow over numpy + onnxruntime).
PLAIN_CEILING = 2.5 * PLAIN_FLOOR_LIMIT
LIKE_FOR_LIKE_CEILING = 2.5 * LIKE_FOR_LIKE_LIMIT
HAS_PYTHON312 = find_python312() is not None and (ROOT / "build/layers/runtime.zip").is_file()


# -- stand-ins: a student in a throwaway store, and its teachers ---------------------------


def linear_softmax_onnx(input_shape: list[Any], weights: np.ndarray) -> bytes:
    """probabilities = softmax(flatten(x) @ W + b): a real, tiny ONNX classifier."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    classes = weights.shape[1]
    inits = [numpy_helper.from_array(weights.astype(np.float32), "W"),
             numpy_helper.from_array(np.zeros(classes, np.float32), "B")]
    nodes = [helper.make_node("Flatten", ["input"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "W"], ["xw"]),
             helper.make_node("Add", ["xw", "B"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "stand_in", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                          input_shape)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def publish(store: Path, manifest, onnx_bytes: bytes):
    from model_store import LocalStore

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.onnx"
        path.write_bytes(onnx_bytes)
        return LocalStore(store).publish(manifest, path)


def build_breast_cancer(store: Path, teachers: Path) -> None:
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from model_store import Feature, Manifest, OutputSpec, TabularSpec

    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    weights = np.random.default_rng(0).normal(scale=0.01, size=(len(names), 2))
    manifest = Manifest(
        name="breast_cancer", task="tabular-classification",
        input=TabularSpec(features=tuple(Feature(n) for n in names)),
        output=OutputSpec("probabilities"), labels=BREAST_CANCER_LABELS, opset=17)
    publish(store, manifest, linear_softmax_onnx(["N", len(names)], weights))
    teacher = RandomForestClassifier(n_estimators=100, random_state=0).fit(data.data, data.target)
    teachers.mkdir(parents=True, exist_ok=True)
    joblib.dump(teacher, teachers / "breast_cancer_teacher.joblib")


def build_digits(store: Path, teachers: Path) -> None:
    from model_store import ImageSpec, Manifest, OutputSpec
    from training.image.models import TEACHER, ConvClassifier, save_teacher_checkpoint

    spec = ImageSpec(height=28, width=28, mode="L", mean=(0.1,), std=(0.3,))
    weights = np.random.default_rng(0).normal(scale=0.01, size=(28 * 28, 10))
    manifest = Manifest(name="digits", task="image-classification", input=spec,
                        output=OutputSpec("probabilities"), labels=DIGIT_LABELS, opset=17)
    publish(store, manifest, linear_softmax_onnx(["N", 1, 28, 28], weights))
    save_teacher_checkpoint(ConvClassifier(TEACHER), teachers / "digits_teacher.pt",
                            metadata={"labels": list(DIGIT_LABELS)})


# -- one quick run, shared by every test -----------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("bench")
    store, teachers, out = root / "store", root / "teachers", root / "out"
    build_breast_cancer(store, teachers)
    build_digits(store, teachers)
    done = run_cli([sys.executable, "-m", "benchmarks", "--quick", "--store", str(store),
                    "--teachers", str(teachers), "--out", str(out)],
                   env=tool_env(), timeout=300)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    results = json.loads((out / "results.json").read_text())
    return {"results": results, "out": out, "stdout": done.stdout,
            "rows": {row["id"]: row for row in results["cold_start"]}}


def median(run: dict[str, Any], scenario: str) -> float:
    return float(run["rows"][scenario]["summary"]["wall_ms"]["median"])


def test_every_scenario_ran_every_sample(run):
    results, rows = run["results"], run["rows"]
    expected = {"floor", "floor-l4l", "breast_cancer/layer", "breast_cancer/s3",
                "breast_cancer/joblib-teacher", "digits/layer", "digits/s3",
                "digits/torch-teacher"}
    if HAS_PYTHON312:
        expected |= {"packaged/floor", "packaged/floor-l4l", "packaged/breast_cancer",
                     "packaged/digits"}
    assert expected <= set(rows)
    assert results["errors"] == {}
    assert results["settings"]["samples"] == 3
    for row in rows.values():
        assert len(row["samples"]) == 3, row["id"]
        for sample in row["samples"]:
            assert sample["wall_ms"] > 0 and sample["peak_rss_kb"] > 0
            if not row["kind"].startswith("floor"):
                assert sample["status"] == 200
                assert sample["import_ms"] > 0 and sample["init_ms"] > 0
                assert sample["first_response_ms"] > 0


def test_outputs_are_written_and_the_table_printed(run):
    out = run["out"]
    markdown = (out / "results.md").read_text()
    assert "| scenario | cold start median [min–max] |" in markdown
    assert "### Warm latency" in markdown and "### Bare inference" in markdown
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| scenario | cold start median" in run["stdout"]
    for key in ("cpu_model", "cores", "python", "date", "versions"):
        assert run["results"]["machine"][key]
    assert run["results"]["machine"]["versions"]["onnxruntime"]


def test_s3_samples_each_downloaded_into_an_empty_cache_and_left_nothing(run):
    for sample in run["rows"]["breast_cancer/s3"]["samples"]:
        cache = sample["cache"]
        assert cache["before"] == [] and cache["downloaded"]
        assert cache["leftover_parts"] == []
        assert sample["boto3_loaded"]
    assert not any(s["boto3_loaded"] for s in run["rows"]["breast_cancer/layer"]["samples"])
    settings = run["results"]["settings"]
    assert not Path(settings["scratch"]).exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(settings["moto_server_pid"], 0)  # moto_server's whole group is gone


def test_handlers_start_within_the_goals_of_both_floors_of_the_same_run(run):
    handlers = [row for row in run["results"]["cold_start"] if row["kind"] == "layer"]
    assert {row["where"] for row in handlers} == ({"venv", "packaged"} if HAS_PYTHON312
                                                  else {"venv"})
    for row in handlers:
        prefix = "" if row["where"] == "venv" else "packaged/"
        plain, l4l = median(run, f"{prefix}floor"), median(run, f"{prefix}floor-l4l")
        handler = median(run, row["id"])
        assert row["ratio_to_floor"] == pytest.approx(handler / plain)
        assert row["ratio_to_l4l"] == pytest.approx(handler / l4l)
        assert handler / plain <= PLAIN_CEILING, row["id"]
        assert handler / l4l <= LIKE_FOR_LIKE_CEILING, row["id"]


def test_the_packaged_handlers_ran_on_cpython_312_isolated_from_the_zip(run):
    if not HAS_PYTHON312:
        pytest.skip("no CPython 3.12 with build/layers/runtime.zip (make layers)")
    for name in ("breast_cancer", "digits"):
        for sample in run["rows"][f"packaged/{name}"]["samples"]:
            assert sample["python"].startswith("3.12.") and sample["isolated"]
            assert "/sandboxes/" in sample["module_file"]  # the unpacked function zip
    for sample in run["rows"]["breast_cancer/layer"]["samples"]:
        assert "/code/bytecode/" in sample["module_file"]  # the staged code, with .pyc


def test_every_goal_is_judged_and_printed(run):
    goals = run["results"]["goals"]
    ids = {g["id"] for g in goals}
    for name in ("breast_cancer", "digits"):
        assert {f"cold/{name}/layer/plain", f"cold/{name}/layer/l4l",
                f"first/{name}/layer", f"snapstart/{name}"} <= ids
    assert "warm/digits/json b64 JPEG 224×224" in ids
    assert "warm/breast_cancer/json v2, 2 instances" in ids
    for entry in goals:
        if entry["met"] is not None:
            assert entry["met"] == (entry["value"] <= entry["limit"])
    assert "### Goals (issue 13)" in run["stdout"]
    assert "PASS" in run["stdout"] or "FAIL" in run["stdout"]


def test_snapstart_runs_the_hooks_in_snapshot_order_then_serves(run):
    if not HAS_PYTHON312:
        pytest.skip("no CPython 3.12 with build/layers/runtime.zip (make layers)")
    for name, entry in run["results"]["snapstart"].items():
        assert entry["hooks_in_order"], (name, entry)
        assert entry["statuses"] and set(entry["statuses"]) == {200}, name
        assert entry["first_ms"] > 0 and entry["warm_median_ms"] > 0


def test_the_handler_starts_faster_than_unpickling_the_sklearn_teacher(run):
    # Measured here: the joblib baseline (scikit-learn + scipy imports) takes about 2-3× as
    # long; only "faster" is asserted, with a 10% margin.
    assert median(run, "breast_cancer/layer") < 0.9 * median(run, "breast_cancer/joblib-teacher")


def test_the_image_handler_starts_far_faster_than_the_torch_teacher(run):
    # Measured here: the torch baseline takes 4-8× as long (importing torch alone does).
    assert median(run, "digits/layer") * 2 < median(run, "digits/torch-teacher")


def test_warm_latency_and_inference_were_measured(run):
    results = run["results"]
    warm = results["warm"]["breast_cancer"]["variants"]["json v2, 2 instances"]
    latencies = warm["latencies_us"]
    assert warm["summary_us"]["n"] == len(latencies) == 200 and min(latencies) > 0
    # Throughput is requests over their busy time: never above one every fastest request.
    assert 0 < warm["throughput_rps"] <= 1e6 / min(latencies)
    engines = results["inference"]["breast_cancer"]["variants"]
    assert list(engines) == ["student, onnxruntime", "teacher, scikit-learn (joblib)"]
    # A 100-tree forest against one matrix product: far slower, even on a noisy machine.
    student, teacher = (engines[e]["summary_us"]["median"] for e in engines)
    assert teacher > 3 * student


def test_throughput_is_measured_side_by_side_on_the_same_requests(run):
    throughput = run["results"]["throughput"]
    rows = throughput["rows"]
    assert set(rows) == {"featherserve handler, in process (1 thread)",
                         "featherserve, serverless-offline (local API Gateway + Lambda)",
                         "Flask + waitress, scikit-learn teacher via joblib (baseline)"}
    for name, row in rows.items():
        assert not row["errors"], (name, row["errors"])
        assert row["requests_per_s"] > 0 and row["latency_ms"]["n"] == row["requests"]
    for name in list(rows)[1:]:  # over HTTP: every request answered 200
        assert rows[name]["statuses"] == {"200": rows[name]["requests"]}
    assert "### Serving throughput" in run["stdout"]


def test_each_change_is_the_ablated_handler_against_the_whole_one():
    from benchmarks.goals import change_gains

    def row(scenario: str, kind: str, median_ms: float, change: str | None = None,
            first: float = 1.2) -> dict[str, Any]:
        return {"id": scenario, "kind": kind, "model": "m", "change": change,
                "label": f"m handler without: {change}",
                "summary": {"wall_ms": {"median": median_ms}},
                "first_to_warm": {"median": first}}

    gains = change_gains([row("m/layer", "layer", 100.0),
                          row("m/no-blas", "ablation", 130.0, "blas"),
                          row("m/no-warm-up", "ablation", 98.0, "warm-up", first=9.0)])
    assert [(g["change"], g["gain_ms"]) for g in gains] == [("blas", 30.0), ("warm-up", -2.0)]
    assert gains[1]["first_to_warm_without"] == 9.0 and gains[1]["first_to_warm_with"] == 1.2
