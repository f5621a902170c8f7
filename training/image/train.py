"""Training loops: a classifier on hard labels, or a student distilled from a teacher.

Inputs are already-preprocessed float32 arrays (N, C, H, W): every image went through
``prepare_image`` once, so an epoch costs only the network. A one-pixel random shift per
batch stands in for the small bounding-box jitter real inputs have after "ink-box".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from training.fit import FitSettings, fit_classifier

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 3e-3    # OneCycle peak
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0   # hard-label loss only
    max_shift: int = 1             # pixels, random per batch
    # distillation (ignored without a teacher)
    temperature: float = 4.0
    distill_weight: float = 0.8


def train_classifier(model: nn.Module, x: Array, y: npt.NDArray[np.int64], config: TrainConfig,
                     *, seed: int, label: str,
                     teacher_logits: Array | None = None) -> nn.Module:
    """Fit ``model``; with ``teacher_logits`` (one row per ``x``) the loss is distillation."""
    settings = FitSettings(epochs=config.epochs, batch_size=config.batch_size,
                           learning_rate=config.learning_rate,
                           weight_decay=config.weight_decay,
                           temperature=config.temperature,
                           distill_weight=config.distill_weight,
                           label_smoothing=config.label_smoothing)
    return fit_classifier(model, x, y, settings, seed=seed, label=label,
                          teacher_logits=teacher_logits,
                          augment=lambda xb, g: _random_shift(xb, config.max_shift, g))


def _random_shift(batch: torch.Tensor, max_shift: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Shift the whole batch by up to ``max_shift`` px each way, filling with the corner value."""
    if max_shift <= 0:
        return batch
    dx, dy = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,),
                                            generator=generator))
    if dx == 0 and dy == 0:
        return batch
    fill = batch[:, :, :1, :1]  # background after normalisation
    padded = F.pad(batch - fill, (max_shift,) * 4) + fill
    height, width = batch.shape[2:]
    top, left = max_shift - dy, max_shift - dx
    return padded[:, :, top:top + height, left:left + width]


@torch.no_grad()
def predict_logits(model: nn.Module, x: Array, batch_size: int = 512) -> Array:
    model.eval()
    outputs = [model(torch.from_numpy(x[i:i + batch_size])).numpy()
               for i in range(0, len(x), batch_size)]
    return np.concatenate(outputs).astype(np.float32)


def accuracy(scores: Array, labels: npt.NDArray[np.int64]) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == labels))
