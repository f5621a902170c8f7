"""The picture beside each report: a confusion matrix (classification) or a residual plot
(regression) of the served model on the test split, as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.evaluation import confusion


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def write_confusion_matrix(path: Path, predicted: npt.NDArray[np.int64],
                           y: npt.NDArray[np.int64], labels: tuple[str, ...],
                           title: str) -> Path:
    plt = _pyplot()
    matrix = confusion(predicted, y, len(labels))
    side = min(12.0, 2.5 + 0.45 * len(labels))
    figure, axes = plt.subplots(figsize=(side + 1, side))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046)
    ticks = np.arange(len(labels))
    shown = [label[:18] for label in labels]
    axes.set_xticks(ticks, shown, rotation=45, ha="right")
    axes.set_yticks(ticks, shown)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if len(labels) <= 20:
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, column), count in np.ndenumerate(matrix):
            axes.text(column, row, str(count), ha="center", va="center",
                      color="white" if count > threshold else "black", fontsize=8)
    axes.set_title(title)
    return _save(figure, plt, path)


def write_residual_plot(path: Path, predicted: npt.NDArray[np.floating],
                        y: npt.NDArray[np.floating], title: str) -> Path:
    plt = _pyplot()
    predicted, y = np.asarray(predicted, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    left.scatter(y, predicted, s=10, alpha=0.7)
    low, high = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    left.plot([low, high], [low, high], color="grey", linewidth=1)
    left.set_xlabel("true value")
    left.set_ylabel("predicted value")
    right.scatter(predicted, y - predicted, s=10, alpha=0.7)
    right.axhline(0.0, color="grey", linewidth=1)
    right.set_xlabel("predicted value")
    right.set_ylabel("residual (true - predicted)")
    figure.suptitle(title)
    return _save(figure, plt, path)


def _save(figure: Any, plt: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
