"""The one training loop: AdamW with a OneCycle schedule, on hard labels or distilled.

Both the tabular and the image jobs call ``fit_classifier``; the only differences between
their students are the network, the data and an optional per-batch augmentation.
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
    generator = torch.Generator().manual_seed(seed)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    soft = None if teacher_logits is None else torch.from_numpy(teacher_logits)
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
            logits = model(xb)
            if soft is None:
                loss = F.cross_entropy(logits, labels[batch],
                                       label_smoothing=settings.label_smoothing)
            else:
                loss = distillation_loss(logits, soft[batch], labels[batch],
                                         temperature=settings.temperature,
                                         weight=settings.distill_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
    return model.eval()
