"""``featherserve train image <name>``: teacher → two students → ONNX → int8 → checks → store.

    data     real images (+ augmented copies, + font and pen-stroke digits for "digits"),
             every one through prepare_image; the test split is held-out real images
    teacher  a large CNN on hard labels
    students the same small CNN twice, same init: distilled from the teacher, and on hard
             labels alone (reported side by side, honestly)
    export   the distilled student to ONNX fp32 → static int8 QDQ → graph optimised for the
             target; that file is measured, checked against the bars, and published
    teacher  artifacts for benchmarks: build/teachers/<name>_teacher.{pt,onnx}
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from model_store.local import LocalStore
from model_store.manifest import NAME_PATTERN, ImageSpec, Manifest
from training.common import build_folder, format_table, log, seed_everything
from training.errors import DataError, QualityGateError
from training.evaluation import GateInput, enforce_gate, majority_baseline, per_class_recall
from training.image.config import ImageBuildConfig
from training.image.datasets import (
    ImageDataset,
    class_balance,
    load_folder_dataset,
    load_sklearn_digits,
)
from training.image.evaluate import RENDERED_DIGITS_DIR, RenderedReport, evaluate_rendered_set
from training.image.export import export_onnx
from training.image.glyphs import available_fonts
from training.image.mixture import PreparedSet, build_training_set, prepare_test_set
from training.image.models import (
    CnnConfig,
    ConvClassifier,
    count_parameters,
    save_teacher_checkpoint,
)
from training.image.quantize import (
    is_int8_model,
    onnx_predict,
    optimise_for_target,
    quantize_int8,
)
from training.image.report import BuildResult, build_manifest, result_rows
from training.image.train import TrainConfig, accuracy, predict_logits, train_classifier
from training.plots import write_confusion_matrix
from training.publishing import check_model_file


def build_image_model(dataset: str, *, folder: Path | None = None,
                      store_root: Path, seed: int = 0, quick: bool = False,
                      work_dir: Path | None = None,
                      config: ImageBuildConfig | None = None,
                      report_dir: Path | None = None, rendered_dir: Path = RENDERED_DIGITS_DIR,
                      command: str = "") -> Manifest:
    """Train, distil, quantize, check and publish an image classifier; returns its manifest.

    Paths come from the caller: ``store_root`` (published to), ``work_dir`` (teachers and
    exports; default ``build_folder(store_root)``, its ``quick/`` for a smoke run, so it never
    overwrites the real build's teacher artifacts), ``report_dir`` (default ``reports/`` in
    ``build_folder(store_root)``) and ``rendered_dir`` (the rendered-digit set digits are
    also scored on). ``command`` is the lineage's (default: this process's command line).
    """
    started = time.perf_counter()
    if not NAME_PATTERN.fullmatch(dataset):
        raise ValueError(f"model name {dataset!r}: use lower-case letters, digits and '_'")
    config = config or (ImageBuildConfig.quick() if quick else ImageBuildConfig())
    if work_dir is None:
        work_dir = build_folder(store_root) / "quick" if quick else build_folder(store_root)
    work_dir = Path(work_dir)
    torch.set_num_threads(config.threads)
    seed_everything(seed)

    data = _load_dataset(dataset, folder, seed, config)
    log(f"[{data.name}] {data.split}\n{class_balance(data)}")
    fonts = available_fonts() if folder is None and config.synthetic_digits else None
    if fonts is not None:
        log(f"[{data.name}] synthetic digits from {len(fonts)} fonts: "
            f"{', '.join(f.name for f in fonts)} + pen strokes")
    spec = config.spec
    train = build_training_set(data, spec, config.mixture, seed=seed, fonts=fonts)
    test_x = prepare_test_set(data.test_images, data.test_labels, spec)
    test_y = data.test_labels
    log(f"[{data.name}] {len(train.y)} training samples {train.sources}, "
        f"{train.skipped} skipped blank; {len(test_y)} test images")

    classes = len(data.label_names)
    teacher = _train(config.teacher, config.teacher_training, classes, train, config, seed,
                     "teacher")
    distilled = _train(config.student, config.student_training, classes, train, config, seed,
                       "student (distilled)", teacher_logits=predict_logits(teacher, train.x))
    hard = _train(config.student, config.student_training, classes, train, config, seed,
                  "student (hard labels)")

    out = work_dir / "image" / data.name
    teacher_onnx = work_dir / "teachers" / f"{data.name}_teacher.onnx"
    fp32_path = export_onnx(distilled, out / "student_fp32.onnx", spec)
    export_onnx(teacher, teacher_onnx, spec)
    calibration = _calibration_sample(train, config.calibration_images, seed)
    qdq_path = quantize_int8(fp32_path, out / "student_int8_qdq.onnx", calibration)
    served = optimise_for_target(qdq_path, out / "model.onnx")

    fp32_scores = onnx_predict(fp32_path, test_x)
    int8_scores = onnx_predict(served, test_x)
    result = BuildResult(
        dataset=data, spec=spec, config=config, seed=seed, fonts=fonts, train=train,
        teacher_accuracy=accuracy(predict_logits(teacher, test_x), test_y),
        distilled_accuracy=accuracy(predict_logits(distilled, test_x), test_y),
        hard_label_accuracy=accuracy(predict_logits(hard, test_x), test_y),
        fp32_accuracy=accuracy(fp32_scores, test_y),
        int8_accuracy=accuracy(int8_scores, test_y),
        agreement=float(np.mean(fp32_scores.argmax(1) == int8_scores.argmax(1))),
        teacher_parameters=count_parameters(teacher),
        student_parameters=count_parameters(distilled),
        teacher_bytes=teacher_onnx.stat().st_size,
        student_fp32_bytes=fp32_path.stat().st_size,
        student_bytes=served.stat().st_size,
        rendered=_rendered(served, data, spec, folder, rendered_dir),
        is_int8=is_int8_model(served),
        seconds=0.0,
        baseline_accuracy=majority_baseline(train.y, test_y),
        per_class_recall=per_class_recall(int8_scores.argmax(1), test_y, data.label_names),
    )
    save_teacher_checkpoint(teacher, work_dir / "teachers" / f"{data.name}_teacher.pt",
                            metadata={"labels": list(data.label_names),
                                      "image_spec": asdict(spec),
                                      "test_accuracy": result.teacher_accuracy,
                                      "seed": seed})
    result = replace(result, seconds=round(time.perf_counter() - started, 1))
    log(format_table(["model", "params", "bytes", "test accuracy"], result_rows(result)))
    recall = ", ".join(f"{k} {v:.3f}" for k, v in result.per_class_recall.items())
    log(f"[{data.name}] per-class recall (served): {recall}")
    folder_out = (report_dir or build_folder(store_root) / "reports") / data.name
    folder_out.mkdir(parents=True, exist_ok=True)
    (folder_out / "report.txt").write_text(
        format_table(["model", "params", "bytes", "test accuracy"], result_rows(result))
        + f"\nper-class recall (served): {recall}\n")
    picture = write_confusion_matrix(folder_out / "confusion_matrix.png",
                                     int8_scores.argmax(1), test_y, data.label_names,
                                     f"{data.name}: served int8 model, test split")
    log(f"[{data.name}] report: {folder_out / 'report.txt'}; picture: {picture}")
    _check_bars(result)

    manifest = build_manifest(result, command)
    check_model_file(manifest, served)  # the handler's init check, before anything is stored
    published = LocalStore(store_root).publish(manifest, served)
    log(f"[{data.name}] published {published.name} v{published.version} "
        f"({published.bytes} bytes, sha256 {published.sha256[:12]}…) to {store_root} "
        f"in {time.perf_counter() - started:.0f}s")
    return published


def _load_dataset(dataset: str, folder: Path | None, seed: int,
                  config: ImageBuildConfig) -> ImageDataset:
    if folder is not None:
        if not Path(folder).is_dir():
            raise DataError(f"--folder {folder}: no such folder")
        try:
            return load_folder_dataset(folder, seed=seed, test_fraction=config.test_fraction,
                                       name=dataset, spec=config.spec)
        except ValueError as exc:
            raise DataError(str(exc)) from exc
    if config.spec.preset != "digits":
        raise DataError(f"{dataset}: give --folder DIR (one sub-folder of images per label); "
                        "only --preset digits has a bundled dataset (scikit-learn's digits)")
    return load_sklearn_digits(seed=seed, test_fraction=config.test_fraction,
                               limit=config.digits_limit)


def _train(architecture: CnnConfig, settings: TrainConfig, classes: int, train: PreparedSet,
           config: ImageBuildConfig, seed: int, label: str, *,
           teacher_logits: npt.NDArray[np.float32] | None = None) -> ConvClassifier:
    """A fresh model, initialised from ``seed`` (both students start from the same weights)."""
    torch.manual_seed(seed)
    model = ConvClassifier(replace(architecture, num_classes=classes,
                                   in_channels=config.spec.channels,
                                   height=config.spec.height, width=config.spec.width))
    trained = train_classifier(model, train.x, train.y, settings, seed=seed, label=label,
                               teacher_logits=teacher_logits)
    assert isinstance(trained, ConvClassifier)
    return trained


def _calibration_sample(train: PreparedSet, count: int,
                        seed: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed + 7)
    picks = np.sort(rng.choice(len(train.x), size=min(count, len(train.x)), replace=False))
    return train.x[picks]


def _rendered(served: Path, data: ImageDataset, spec: ImageSpec, folder: Path | None,
              rendered_dir: Path) -> RenderedReport | None:
    if folder is not None or data.label_names != tuple(str(d) for d in range(10)):
        return None
    if not (rendered_dir / "index.csv").is_file():
        log(f"  no rendered-digit set at {rendered_dir}; skipping that evaluation")
        return None
    report = evaluate_rendered_set(served, spec, data.label_names, rendered_dir)
    groups = ", ".join(f"{k} {c}/{t}" for k, (c, t) in sorted(report.by_group.items()))
    log(f"[{data.name}] rendered digits: {report.accuracy:.1%} of {report.count} ({groups})")
    for failure in report.failures:
        log(f"    wrong: {failure}")
    return report


def _check_bars(result: BuildResult) -> None:
    """The quality gate (always), then the bars a shipped-quality build must meet."""
    config = result.config
    enforce_gate(result.dataset.name, GateInput(
        task="classification", served=result.int8_accuracy,
        baseline=result.baseline_accuracy, test_rows=len(result.dataset.test_labels),
        teacher=result.teacher_accuracy, min_retention=config.min_retention),
        advice="more images per label (and labels that look different), --size to keep "
               "the detail that matters, --color rgb when colour tells the labels apart, "
               "another --seed")
    problems = []
    ratio = result.teacher_parameters / result.student_parameters
    if ratio < config.min_parameter_ratio:
        problems.append(f"student has only {ratio:.1f}× fewer parameters than the teacher; "
                        f"the bar is {config.min_parameter_ratio:.0f}×")
    if result.rendered is not None and result.rendered.accuracy < config.min_rendered_accuracy:
        problems.append(f"rendered-digit accuracy {result.rendered.accuracy:.1%} is below "
                        f"{config.min_rendered_accuracy:.0%}")
    if not result.is_int8:
        problems.append("the served file has no int8 operators: quantization did not happen")
    if not problems:
        return
    message = "; ".join(problems)
    if config.enforce_bars:
        raise QualityGateError(f"{result.dataset.name}: not published: {message}")
    log(f"  WARNING (bars not enforced in this run): {message}")
