"""The image build end to end (quick mode, tiny folder dataset) and the shipped digits model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image, ImageDraw

from model_store.local import LocalStore
from model_store.manifest import ImageSpec, Manifest
from training.errors import QualityGateError
from training.image import glyphs
from training.image.build import build_image_model
from training.image.config import image_config
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

ROOT = Path(__file__).resolve().parents[2]
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


# Red and green of the same grey level (luma 107.7), each image brighter or darker at random:
# only colour tells the two labels apart.
COLOURS = {"green": (60, 141, 60), "red": (220, 60, 60)}


def _colour_folder(root: Path, images: int = 20) -> Path:
    rng = np.random.default_rng(0)
    for label, colour in COLOURS.items():
        (root / label).mkdir(parents=True)
        for i in range(images):
            mean = np.array(colour) * rng.uniform(0.8, 1.2)
            pixels = np.clip(mean + rng.normal(0, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _colour_folder(tmp_path_factory.mktemp("colours"))


@pytest.fixture(scope="module")
def quick_build(colour_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("build")
    store, work = base / "store", base / "work"
    manifest = build_image_model("colours", folder=colour_folder, store_root=store, seed=0,
                                 quick=True, work_dir=work, report_dir=base / "reports",
                                 config=image_config(preset="photo", size=16, quick=True))
    return manifest, store, work, base / "reports"


def test_rgb_folder_where_colour_separates_the_classes(quick_build):
    manifest, _, _, reports = quick_build
    spec = manifest.input
    assert isinstance(spec, ImageSpec)
    assert (spec.mode, spec.preset, spec.resize, spec.invert) == ("RGB", "photo",
                                                                  "center-crop", "never")
    assert manifest.metrics.student_accuracy == 1.0 and manifest.metrics.baseline_accuracy == 0.5
    assert manifest.metrics.per_class_recall == {"green": 1.0, "red": 1.0}
    assert "2-class image classifier, 16x16 RGB" in manifest.description
    assert "ink" not in manifest.description and "→ 2," in manifest.lineage.student
    assert (reports / "colours" / "confusion_matrix.png").stat().st_size > 1000


def test_the_same_folder_in_grey_is_refused_by_the_gate(colour_folder, tmp_path):
    with pytest.raises(QualityGateError, match="not clearly better than always answering"):
        build_image_model("grey", folder=colour_folder, store_root=tmp_path / "store",
                          quick=True, work_dir=tmp_path / "work", report_dir=tmp_path,
                          config=image_config(preset="photo", size=16, color="gray",
                                              quick=True))
    assert LocalStore(tmp_path / "store").versions("grey") == []


def test_quick_folder_build_publishes_a_valid_int8_model(quick_build):
    manifest, store, work, _ = quick_build
    stored = LocalStore(store)
    assert stored.versions("colours") == ["1"]
    opened = stored.open("colours")  # checks the sha256
    assert Manifest.from_json(manifest.to_json()) == manifest == opened.manifest
    assert manifest.labels == ("green", "red")
    assert manifest.task == "image-classification"
    assert manifest.quantization.method == "static-int8-qdq"
    assert manifest.opset >= 17 and manifest.output.kind == "probabilities"
    metrics = manifest.metrics
    assert metrics.test_samples == 10  # 5 of 20 per class, stratified
    assert metrics.int8_fp32_agreement is not None and 0.0 <= metrics.int8_fp32_agreement <= 1
    for value in (metrics.teacher_accuracy, metrics.student_accuracy,
                  metrics.hard_label_student_accuracy, metrics.student_fp32_accuracy):
        assert value is not None and 0.0 <= value <= 1.0
    assert metrics.teacher_parameters >= 10 * metrics.student_parameters
    assert manifest.lineage.distillation_temperature and manifest.lineage.distillation_weight
    assert "rendered_digits_accuracy" not in metrics.extra  # not a digits model

    # quantize_static's QDQ graph: Q/DQ pairs around every conv and the Gemm, softmax float.
    qdq_ops = operator_counts(work / "image" / "colours" / "student_int8_qdq.onnx")
    assert qdq_ops["QuantizeLinear"] >= 4 and qdq_ops["DequantizeLinear"] >= 8
    assert qdq_ops["Conv"] == 3 and qdq_ops["Softmax"] == 1
    # The served file is that graph as onnxruntime fuses it: the Q/DQ pairs become int8
    # kernels, leaving one QuantizeLinear at the input and float probabilities at the end.
    served_ops = operator_counts(stored.model_path("colours"))
    assert served_ops.get("QuantizeLinear") == 1
    assert served_ops.get("QLinearConv") == 3 and served_ops.get("QGemm") == 1
    assert "Conv" not in served_ops and "Gemm" not in served_ops


def test_served_file_answers_like_the_manifest_says(quick_build):
    manifest, store, _, _ = quick_build
    session = ort.InferenceSession(str(LocalStore(store).model_path("colours")),
                                   providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [manifest.input_name]
    assert [o.name for o in session.get_outputs()] == [manifest.output.name]
    spec = manifest.input
    batch = np.zeros((3, spec.channels, spec.height, spec.width), np.float32)
    probabilities = session.run(None, {manifest.input_name: batch})[0]
    assert probabilities.shape == (3, len(manifest.labels))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_rebuild_with_the_same_seed_publishes_no_new_version(quick_build, colour_folder):
    manifest, store, work, reports = quick_build
    again = build_image_model("colours", folder=colour_folder, store_root=store, seed=0,
                              quick=True, work_dir=work, report_dir=reports,
                              config=image_config(preset="photo", size=16, quick=True))
    assert again.version == manifest.version and again.sha256 == manifest.sha256


def test_teacher_artifacts_rebuild_the_teacher(quick_build):
    _, _, work, _ = quick_build
    teacher, metadata = load_teacher_checkpoint(work / "teachers" / "colours_teacher.pt")
    assert metadata["labels"] == ["green", "red"]
    x = np.random.default_rng(0).normal(size=(4, 3, 16, 16)).astype(np.float32)
    import torch

    with torch.no_grad():
        expected = torch.softmax(teacher(torch.from_numpy(x)), dim=1).numpy()
    actual = onnx_predict(work / "teachers" / "colours_teacher.onnx", x)
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
