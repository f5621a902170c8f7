"""Evaluation of a served model file the way the handler would run it: bytes → tensor → ORT.

``evaluate_rendered_set`` scores a model on the committed rendered-digit robustness set
(``tests/images/rendered_digits``), broken down by canvas size, polarity and source.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model_store.manifest import ImageSpec
from preprocessing.imaging import image_bytes_to_array
from training.image.quantize import onnx_predict
from training.image.rendered_set import DEFAULT_DIR, INDEX

RENDERED_DIGITS_DIR = DEFAULT_DIR


@dataclass(frozen=True)
class RenderedReport:
    accuracy: float
    count: int
    by_group: dict[str, tuple[int, int]]  # group → (correct, total)
    failures: list[str] = field(default_factory=list)  # "file → predicted"

    def metrics(self) -> dict[str, float]:
        """Flat ``metrics.extra`` entries: overall accuracy, count and per-group accuracy."""
        out = {"rendered_digits_accuracy": round(self.accuracy, 4),
               "rendered_digits_count": float(self.count)}
        for group, (correct, total) in sorted(self.by_group.items()):
            out[f"rendered_digits_accuracy_{group}"] = round(correct / total, 4)
        return out


def size_bucket(size: int) -> str:
    if size <= 64:
        return "28_64px"
    if size <= 256:
        return "128_256px"
    return "512_1024px"


def evaluate_rendered_set(model_path: Path, spec: ImageSpec, label_names: tuple[str, ...],
                          folder: Path = RENDERED_DIGITS_DIR) -> RenderedReport:
    """Accuracy of ``model_path`` on ``folder``'s images, each decoded like a request."""
    with (folder / INDEX).open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    x = np.stack([image_bytes_to_array((folder / row["file"]).read_bytes(), spec)
                  for row in rows])
    predicted = np.argmax(onnx_predict(model_path, x), axis=1)
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: list[str] = []
    for row, index in zip(rows, predicted, strict=True):
        ok = label_names[int(index)] == row["label"]
        for group in (size_bucket(int(row["size"])), row["polarity"], row["source"]):
            groups[group][0] += int(ok)
            groups[group][1] += 1
        if not ok:
            failures.append(f"{row['file']} → {label_names[int(index)]}")
    correct = len(rows) - len(failures)
    return RenderedReport(accuracy=correct / len(rows), count=len(rows),
                          by_group={k: (v[0], v[1]) for k, v in groups.items()},
                          failures=failures)
