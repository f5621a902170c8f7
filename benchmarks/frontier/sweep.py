"""The accuracy–latency–cost frontier's sweeps: one model's build over student sizes.

Each student size is built by the model's own pipeline (same data, teacher recipe, seed,
export, int8 where the build applies it) into a scratch store, then every file is measured
the same way (``measure.py``): test accuracy (from its build), file size, parameters, warm
latency and cold start of the real handler serving it (fresh processes,
``benchmarks/probe.py``), and cost per million requests at that latency
(``featherserve.pricing``). For image models the fp32 export of each student is measured
beside its int8 file.

Affordable on two cores: image students get a lighter schedule than the shipped build
(``sweep_schedule``: fewer synthetic samples and epochs, the same for every size), so
their accuracies compare with each other, not with the shipped model, which is measured as
its own point. ``Frontier.pick_smallest`` is the build's choice: the smallest file within a
stated accuracy loss of the teacher; ``publish_pick`` publishes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.frontier.measure import measure_point
from benchmarks.frontier.points import Frontier, FrontierPoint
from model_store.local import LocalStore
from model_store.manifest import Manifest, Quantization

TABULAR_HIDDEN: tuple[tuple[int, ...], ...] = ((2,), (4,), (8,), (16,), (32,), (64, 32))
IMAGE_CHANNELS: tuple[tuple[int, ...], ...] = ((4, 8, 8), (8, 16, 16), (12, 24, 32),
                                              (16, 32, 48), (24, 48, 64))
# --quick (tests, smoke runs): three sizes around the shipped one.
QUICK_TABULAR_HIDDEN = TABULAR_HIDDEN[1:4]
QUICK_IMAGE_CHANNELS = IMAGE_CHANNELS[1:3]
# Every size is built and measured, the weak ones too: the build's retention bar is what a
# published model must meet; the sweep's choice applies the stated loss instead. A student
# must still beat the majority-class baseline (the gate's other half).
SWEEP_MIN_RETENTION = 0.5


# -- sweeps --------------------------------------------------------------------------------
def tabular_frontier(name: str, *, data: str, target: str, work: Path, seed: int = 0,
                     config: Any = None, quick: bool = False, task: str | None = None,
                     command: str = "") -> Frontier:
    """Build every size in ``TABULAR_HIDDEN`` (``quick``: ``QUICK_TABULAR_HIDDEN``) into a
    scratch store under ``work``; ``command`` is the lineage's (the published pick carries
    it)."""
    from training.tabular.build import build_tabular_model
    from training.tabular.config import TabularConfig

    base = config or TabularConfig()
    points = []
    for size in QUICK_TABULAR_HIDDEN if quick else TABULAR_HIDDEN:
        store = work / f"hidden-{'x'.join(map(str, size))}"
        manifest = build_tabular_model(name, data=data, target=target, task=task,  # type: ignore[arg-type]
                                       store_root=store, seed=seed,
                                       config=replace(base, hidden=size,
                                                      min_retention=SWEEP_MIN_RETENTION),
                                       teacher_dir=work / "teachers", report_dir=work / "reports",
                                       command=command)
        points.append(point_of(manifest, store, f"hidden {size}",
                             shipped=size == TabularConfig().hidden))
    return Frontier(name, tuple(points), f"the build's own schedule ({base.epochs} epochs, "
                                         f"{base.teacher_trees}-tree teacher)")


def image_frontier(name: str, *, work: Path, folder: Path | None = None, seed: int = 0,
                   config: Any = None, quick: bool = False,
                   rendered_dir: Path | None = None, command: str = "") -> Frontier:
    """Build every width in ``IMAGE_CHANNELS`` (``quick``: ``QUICK_IMAGE_CHANNELS``) under
    ``work`` (and keep each int8 student's fp32 twin); ``rendered_dir``: the rendered-digit
    set (default the checkout's)."""
    from training.image.build import build_image_model
    from training.image.config import ImageBuildConfig, image_config
    from training.image.evaluate import RENDERED_DIGITS_DIR
    from training.image.models import STUDENT

    base = sweep_schedule(config or (image_config(preset="digits") if folder is None
                                     else ImageBuildConfig()))
    points = []
    for widths in QUICK_IMAGE_CHANNELS if quick else IMAGE_CHANNELS:
        tag = "x".join(map(str, widths))
        store, build = work / f"channels-{tag}", work / f"build-{tag}"
        manifest = build_image_model(name, folder=folder, store_root=store, seed=seed,
                                     work_dir=build, report_dir=work / "reports",
                                     rendered_dir=rendered_dir or RENDERED_DIGITS_DIR,
                                     command=command,
                                     config=replace(base, student=replace(base.student,
                                                                          channels=widths)))
        shipped = widths == STUDENT.channels
        quantized = manifest.quantization.method != "none"
        points.append(point_of(manifest, store, f"channels {widths} "
                             f"{'int8' if quantized else 'fp32'}", shipped=shipped))
        fp32_file = build / "image" / name / "student_fp32.onnx"
        if quantized and fp32_file.is_file():
            fp32 = _fp32_twin(manifest, fp32_file, work / f"channels-{tag}-fp32")
            points.append(point_of(fp32, work / f"channels-{tag}-fp32",
                                 f"channels {widths} fp32", shipped=False))
    epochs = (base.teacher_training.epochs, base.student_training.epochs)
    return Frontier(name, tuple(points),
                    f"sweep schedule: teacher {epochs[0]} epochs, students {epochs[1]} epochs, "
                    f"{base.mixture.font_digits} font + {base.mixture.stroke_digits} stroke "
                    f"digits, {base.mixture.augmented_copies} augmented copies (lighter than "
                    "the shipped build; the same for every size)")


def sweep_schedule(config: Any) -> Any:
    """IMAGE_SWEEP_SCHEDULE: fewer synthetic samples and epochs, bars reported, not enforced."""
    mixture = replace(config.mixture, augmented_copies=min(config.mixture.augmented_copies, 1),
                      font_digits=min(config.mixture.font_digits, 800),
                      stroke_digits=min(config.mixture.stroke_digits, 800))
    return replace(config, mixture=mixture, enforce_bars=False,
                   min_retention=SWEEP_MIN_RETENTION,
                   teacher_training=replace(config.teacher_training,
                                            epochs=min(config.teacher_training.epochs, 3)),
                   student_training=replace(config.student_training,
                                            epochs=min(config.student_training.epochs, 5)))


def point_of(manifest: Manifest, store: Path, label: str, *, shipped: bool) -> FrontierPoint:
    metrics = manifest.metrics
    return FrontierPoint(label=label, size_key=metrics.student_parameters or manifest.bytes,
                         quantization=manifest.quantization.method,
                         accuracy=metrics.student_accuracy,
                         teacher_accuracy=metrics.teacher_accuracy, file_bytes=manifest.bytes,
                         parameters=metrics.student_parameters, store=str(store),
                         shipped=shipped)


def _fp32_twin(manifest: Manifest, fp32_file: Path, store: Path) -> Manifest:
    """The same student's fp32 export, published with its own accuracy and no int8 claim."""
    metrics = replace(manifest.metrics, student_accuracy=manifest.metrics.student_fp32_accuracy)
    twin = replace(manifest, version="", sha256="", bytes=0, metrics=metrics,
                   quantization=Quantization(method="none", reason="frontier: fp32 twin"))
    return LocalStore(store).publish(twin, fp32_file)


# -- measuring and choosing ------------------------------------------------------------------
def measure(frontier: Frontier, *, samples: int = 3, warm_requests: int = 200,
            log: Callable[[str], None] = print) -> Frontier:
    points = []
    for point in frontier.points:
        log(f"  frontier {frontier.model}: measuring {point.label}")
        points.append(replace(point, **measure_point(frontier.model, Path(point.store),
                                                     samples=samples,
                                                     warm_requests=warm_requests)))
    return replace(frontier, points=tuple(points))


def publish_pick(frontier: Frontier, store: Path, max_loss: float) -> Manifest | None:
    """Publish ``pick_smallest``'s student to ``store`` (None: no student was close enough)."""
    pick = frontier.pick_smallest(max_loss)
    if pick is None:
        return None
    source = LocalStore(pick.store)
    manifest = source.manifest(frontier.model)
    return LocalStore(store).publish(manifest, source.model_path(frontier.model))
