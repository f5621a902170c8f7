"""The image build end to end (quick mode, tiny folder dataset) and the shipped digits model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image, ImageDraw

from model_store.local import LocalStore
from model_store.manifest import ImageSpec, Manifest
from training.image import glyphs
from training.image.build import build_image_model
from training.image.datasets import (
    class_balance,
    load_folder_dataset,
    load_sklearn_digits,
    stratified_split,
)
from training.image.evaluate import RENDERED_DIGITS_DIR, evaluate_rendered_set
from training.image.mixture import MixtureConfig, build_training_set
from training.image.models import STUDENT, ConvClassifier, count_parameters, load_teacher_checkpoint
from training.image.quantize import onnx_predict, operator_counts

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_STORE = ROOT / "models"

pytestmark = pytest.mark.slow


def _shape(kind: str, rng: np.random.Generator, size: int) -> Image.Image:
    dark_on_light = bool(rng.integers(0, 2))
    image = Image.new("L", (size, size), 230 if dark_on_light else 20)
    draw = ImageDraw.Draw(image)
    ink = 30 if dark_on_light else 240
    c, r = size * rng.uniform(0.4, 0.6), size * rng.uniform(0.2, 0.3)
    width = max(2, size // 16)
    if kind == "circle":
        draw.ellipse((c - r, c - r, c + r, c + r), outline=ink, width=width)
    elif kind == "cross":
        draw.line((c - r, c - r, c + r, c + r), fill=ink, width=width)
        draw.line((c - r, c + r, c + r, c - r), fill=ink, width=width)
    else:
        draw.line((c - r, c, c + r, c), fill=ink, width=width)
    return image


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(3)
    for kind in ("circle", "cross", "line"):
        (root / kind).mkdir()
        for i in range(8):
            fmt = "png" if i % 2 else "jpg"
            _shape(kind, rng, int(rng.integers(40, 120))).save(root / kind / f"{i}.{fmt}")
    (root / "line" / "notes.txt").write_text("ignored")
    return root


@pytest.fixture(scope="module")
def quick_build(shapes_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("build")
    store, work = base / "store", base / "work"
    manifest = build_image_model("shapes", folder=shapes_folder, store_root=store, seed=0,
                                 quick=True, work_dir=work)
    return manifest, store, work


def test_quick_folder_build_publishes_a_valid_int8_model(quick_build):
    manifest, store, work = quick_build
    stored = LocalStore(store)
    assert stored.versions("shapes") == ["1"]
    opened = stored.open("shapes")  # checks the sha256
    assert Manifest.from_json(manifest.to_json()) == manifest == opened.manifest
    assert manifest.labels == ("circle", "cross", "line")
    assert manifest.task == "image-classification"
    assert manifest.quantization.method == "static-int8-qdq"
    assert manifest.opset >= 17 and manifest.output.kind == "probabilities"
    metrics = manifest.metrics
    assert metrics.test_samples == 6  # 2 of 8 per class, stratified
    assert metrics.int8_fp32_agreement is not None and 0.0 <= metrics.int8_fp32_agreement <= 1
    for value in (metrics.teacher_accuracy, metrics.student_accuracy,
                  metrics.hard_label_student_accuracy, metrics.student_fp32_accuracy):
        assert value is not None and 0.0 <= value <= 1.0
    assert metrics.teacher_parameters >= 10 * metrics.student_parameters
    assert manifest.lineage.distillation_temperature and manifest.lineage.distillation_weight
    assert "rendered_digits_accuracy" not in metrics.extra  # not a digits model

    # quantize_static's QDQ graph: Q/DQ pairs around every conv and the Gemm, softmax float.
    qdq_ops = operator_counts(work / "image" / "shapes" / "student_int8_qdq.onnx")
    assert qdq_ops["QuantizeLinear"] >= 4 and qdq_ops["DequantizeLinear"] >= 8
    assert qdq_ops["Conv"] == 3 and qdq_ops["Softmax"] == 1
    # The served file is that graph as onnxruntime fuses it: the Q/DQ pairs become int8
    # kernels, leaving one QuantizeLinear at the input and float probabilities at the end.
    served_ops = operator_counts(stored.model_path("shapes"))
    assert served_ops.get("QuantizeLinear") == 1
    assert served_ops.get("QLinearConv") == 3 and served_ops.get("QGemm") == 1
    assert "Conv" not in served_ops and "Gemm" not in served_ops


def test_served_file_answers_like_the_manifest_says(quick_build):
    manifest, store, _ = quick_build
    session = ort.InferenceSession(str(LocalStore(store).model_path("shapes")),
                                   providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [manifest.input_name]
    assert [o.name for o in session.get_outputs()] == [manifest.output.name]
    spec = manifest.input
    batch = np.zeros((3, spec.channels, spec.height, spec.width), np.float32)
    probabilities = session.run(None, {manifest.input_name: batch})[0]
    assert probabilities.shape == (3, len(manifest.labels))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_rebuild_with_the_same_seed_publishes_no_new_version(quick_build, shapes_folder):
    manifest, store, work = quick_build
    again = build_image_model("shapes", folder=shapes_folder, store_root=store, seed=0,
                              quick=True, work_dir=work)
    assert again.version == manifest.version and again.sha256 == manifest.sha256


def test_teacher_artifacts_rebuild_the_teacher(quick_build):
    _, _, work = quick_build
    teacher, metadata = load_teacher_checkpoint(work / "teachers" / "shapes_teacher.pt")
    assert metadata["labels"] == ["circle", "cross", "line"]
    x = np.random.default_rng(0).normal(size=(4, 1, 28, 28)).astype(np.float32)
    import torch

    with torch.no_grad():
        expected = torch.softmax(teacher(torch.from_numpy(x)), dim=1).numpy()
    actual = onnx_predict(work / "teachers" / "shapes_teacher.onnx", x)
    np.testing.assert_allclose(actual, expected, atol=1e-4)


def test_folder_dataset_split_is_stratified_and_reported(shapes_folder):
    dataset = load_folder_dataset(shapes_folder, seed=0)
    table = class_balance(dataset).splitlines()
    assert table[0].split() == ["label", "train", "test"]
    assert table[2].split() == ["circle", "6", "2"] and table[-1].split() == ["total", "18", "6"]
    assert dataset.label_names == ("circle", "cross", "line")
    assert np.bincount(dataset.test_labels).tolist() == [2, 2, 2]
    assert np.bincount(dataset.train_labels).tolist() == [6, 6, 6]
    again = load_folder_dataset(shapes_folder, seed=0)
    assert np.array_equal(dataset.test_labels, again.test_labels)


def test_stratified_split_keeps_every_class_in_both_splits():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 2)
    train, test = stratified_split(labels, 0.25, seed=1)
    assert set(labels[train]) == set(labels[test]) == {0, 1, 2}
    assert len(set(train) | set(test)) == len(labels) and not set(train) & set(test)


def test_training_set_builds_with_only_the_builtin_font(monkeypatch):
    monkeypatch.setattr(glyphs, "FONT_DIRS", ())
    fonts = glyphs.available_fonts()
    assert [f.name for f in fonts] == [glyphs.BUILTIN_FONT]
    data = load_sklearn_digits(seed=0, limit=30)
    from training.image.config import ImageBuildConfig

    spec = ImageBuildConfig().spec
    prepared = build_training_set(data, spec, MixtureConfig(augmented_copies=1, font_digits=20,
                                                            stroke_digits=20),
                                  seed=0, fonts=fonts)
    assert prepared.x.shape[1:] == (1, 28, 28)
    assert len(prepared.y) + prepared.skipped == len(data.train_labels) * 2 + 40


# -- the shipped model ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped() -> Manifest:
    store = LocalStore(SHIPPED_STORE)
    if "digits" not in store.names():
        pytest.skip("models/digits has not been built yet (python -m training image digits)")
    return store.manifest("digits")


def test_shipped_digits_model_meets_the_bars_it_claims(shipped: Manifest):
    store = LocalStore(SHIPPED_STORE)
    store.open("digits")  # sha256 matches the manifest
    path = store.model_path("digits")
    metrics = shipped.metrics
    assert metrics.student_parameters == count_parameters(ConvClassifier(STUDENT))
    assert metrics.teacher_parameters and metrics.student_parameters
    assert metrics.teacher_parameters >= 10 * metrics.student_parameters
    assert isinstance(shipped.input, ImageSpec)
    # Recompute the served file's accuracy on the held-out split the manifest names.
    seed = shipped.lineage.seed
    assert seed is not None
    data = load_sklearn_digits(seed=seed)
    assert len(data.test_labels) == metrics.test_samples
    from training.image.mixture import prepare_test_set

    x = prepare_test_set(data.test_images, data.test_labels, shipped.input)
    student = float(np.mean(onnx_predict(path, x).argmax(1) == data.test_labels))
    assert student == pytest.approx(metrics.student_accuracy, abs=1e-4)
    assert metrics.teacher_accuracy
    assert student / metrics.teacher_accuracy >= 0.99


def test_shipped_digits_model_reads_rendered_digits(shipped: Manifest):
    assert isinstance(shipped.input, ImageSpec)
    report = evaluate_rendered_set(LocalStore(SHIPPED_STORE).model_path("digits"),
                                   shipped.input, shipped.labels, RENDERED_DIGITS_DIR)
    assert report.count >= 60
    assert report.accuracy >= 0.90, report.failures
    claimed = shipped.metrics.extra.get("rendered_digits_accuracy")
    assert claimed == pytest.approx(report.accuracy, abs=1e-4)


def test_rendered_set_is_small_and_indexed():
    files = [p for p in RENDERED_DIGITS_DIR.iterdir() if p.suffix in (".png", ".jpg")]
    assert 60 <= len(files) <= 100
    assert sum(p.stat().st_size for p in files) < 2 * 1024 * 1024
    sizes = {Image.open(p).size[0] for p in files}
    assert min(sizes) == 28 and max(sizes) == 1024
