"""``python -m benchmarks --quick`` end to end, on stand-in models and teachers built here.

Only ratios measured in the same run are asserted, with margins wide enough for a busy
two-core machine; absolute times never are.
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

from featherserve.support.processes import ROOT, run_cli, tool_env

pytestmark = pytest.mark.perf

BREAST_CANCER_LABELS = ("malignant", "benign")
DIGIT_LABELS = tuple(str(d) for d in range(10))
HAS_DIGITS_HANDLER = (ROOT / "handlers" / "digits.py").is_file()


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
    if HAS_DIGITS_HANDLER:
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
    expected = {"floor", "breast_cancer/layer", "breast_cancer/s3",
                "breast_cancer/joblib-teacher"}
    if HAS_DIGITS_HANDLER:
        expected |= {"digits/layer", "digits/s3", "digits/torch-teacher"}
    assert expected <= set(rows)
    assert results["errors"] == {}
    assert results["settings"]["samples"] == 3
    for row in rows.values():
        assert len(row["samples"]) == 3, row["id"]
        for sample in row["samples"]:
            assert sample["wall_ms"] > 0 and sample["peak_rss_kb"] > 0
            if row["kind"] != "floor":
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


def test_layer_handlers_start_close_to_the_floor(run):
    # Measured here: 1.1-1.6× (import powertools and featherserve, read and check the
    # model, create the session, answer); 3× leaves room for a noisy neighbour.
    layers = [row["id"] for row in run["results"]["cold_start"] if row["kind"] == "layer"]
    assert layers
    for scenario in layers:
        assert median(run, scenario) < 3.0 * median(run, "floor"), scenario


def test_the_handler_starts_faster_than_unpickling_the_sklearn_teacher(run):
    # Measured here: the joblib baseline (scikit-learn + scipy imports) takes about 2-3× as
    # long; only "faster" is asserted, with a 10% margin.
    assert median(run, "breast_cancer/layer") < 0.9 * median(run, "breast_cancer/joblib-teacher")


@pytest.mark.skipif(not HAS_DIGITS_HANDLER, reason="handlers/digits.py does not exist yet")
def test_the_image_handler_starts_far_faster_than_the_torch_teacher(run):
    # Measured here: the torch baseline takes 4-8× as long (importing torch alone does).
    assert median(run, "digits/layer") * 2 < median(run, "digits/torch-teacher")


def test_warm_latency_and_inference_were_measured(run):
    results = run["results"]
    warm = results["warm"]["breast_cancer"]["variants"]["json v2, 2 instances"]
    assert warm["summary_us"]["n"] == 200
    assert warm["summary_us"]["median"] <= warm["summary_us"]["p99"]
    assert warm["throughput_rps"] > 0
    engines = results["inference"]["breast_cancer"]["variants"]
    assert list(engines) == ["student, onnxruntime", "teacher, scikit-learn (joblib)"]
    # A 100-tree forest against one matrix product: far slower, even on a noisy machine.
    student, teacher = (engines[e]["summary_us"]["median"] for e in engines)
    assert teacher > 3 * student
