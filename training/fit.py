"""The one training loop: AdamW with a OneCycle schedule, on hard labels or distilled.

Both the tabular and the image jobs call ``fit_classifier`` (tabular regression calls
``fit_regressor``, the same loop with a squared-error loss); the only differences between
their students are the network, the data, the loss and an optional per-batch augmentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from training.common import progress
from training.distill import distillation_loss

BatchAugment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class FitSettings:
    epochs: int
    batch_size: int
    learning_rate: float  # OneCycle peak
    weight_decay: float
    temperature: float  # distillation only
    distill_weight: float  # distillation only
    label_smoothing: float = 0.0  # hard-label loss only


def fit_classifier(model: nn.Module, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64],
                   settings: FitSettings, *, seed: int, label: str,
                   teacher_logits: npt.NDArray[np.float32] | None = None,
                   augment: BatchAugment | None = None) -> nn.Module:
    """Fit ``model``; with ``teacher_logits`` (one row per ``x``) the loss is distillation.

    For a given seed, batches come in the same order whatever the target, so a distilled
    student and its hard-label twin differ only in what they learn from.
    """
    labels = torch.from_numpy(y)
    soft = None if teacher_logits is None else torch.from_numpy(teacher_logits)

    def loss(outputs: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        if soft is None:
            return F.cross_entropy(outputs, labels[batch],
                                   label_smoothing=settings.label_smoothing)
        return distillation_loss(outputs, soft[batch], labels[batch],
                                 temperature=settings.temperature,
                                 weight=settings.distill_weight)

    return _fit(model, x, settings, seed=seed, label=label, loss=loss, augment=augment)


def fit_regressor(model: nn.Module, x: npt.NDArray[np.float32], y: npt.NDArray[np.float32],
                  settings: FitSettings, *, seed: int, label: str,
                  teacher_values: npt.NDArray[np.float32] | None = None) -> nn.Module:
    """Fit ``model`` to standardised targets ``y`` (N, 1) by mean squared error; with
    ``teacher_values`` the loss is ``distill_weight`` × MSE to the teacher + the rest × MSE
    to the truth (a regression teacher has no temperature)."""
    truth = torch.from_numpy(y)
    teacher = None if teacher_values is None else torch.from_numpy(teacher_values)

    def loss(outputs: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        hard = F.mse_loss(outputs, truth[batch])
        if teacher is None:
            return hard
        weight = settings.distill_weight
        return weight * F.mse_loss(outputs, teacher[batch]) + (1.0 - weight) * hard

    return _fit(model, x, settings, seed=seed, label=label, loss=loss)


def _fit(model: nn.Module, x: npt.NDArray[np.float32], settings: FitSettings, *, seed: int,
         label: str, loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
         augment: BatchAugment | None = None) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.from_numpy(x)
    steps_per_epoch = max(1, -(-len(inputs) // settings.batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate,
        total_steps=settings.epochs * steps_per_epoch)
    model.train()
    for _epoch in progress(label, range(settings.epochs)):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), settings.batch_size):
            batch = order[start:start + settings.batch_size]
            xb = inputs[batch] if augment is None else augment(inputs[batch], generator)
            value = loss(model(xb), batch)
            optimizer.zero_grad(set_to_none=True)
            value.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
    return model.eval()
