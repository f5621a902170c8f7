"""The image teacher and student CNNs, and the teacher's self-describing checkpoint.

Both take (N, C, H, W) float32 and return logits; the exported graph appends a softmax.
The teacher is deliberately large (≈ 440k parameters); the student is a few convolutions
narrow enough to stay under 20k parameters (≥ 10× fewer), small enough to answer in well
under a millisecond on one Lambda vCPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

CHECKPOINT_FORMAT = "featherserve-image-teacher/1"


@dataclass(frozen=True)
class CnnConfig:
    """Conv widths (one 3×3 conv + BN + ReLU + 2×2 max-pool per stage) and the head."""

    channels: tuple[int, ...]
    hidden: int = 0          # 0: a linear head straight from the flattened features
    dropout: float = 0.0
    in_channels: int = 1
    num_classes: int = 10
    height: int = 28
    width: int = 28


TEACHER = CnnConfig(channels=(32, 64, 128), hidden=256, dropout=0.3)
STUDENT = CnnConfig(channels=(12, 24, 32))


class ConvClassifier(nn.Module):
    """Stages of conv3×3 → BatchNorm → ReLU → MaxPool2, then flatten → (hidden →) classes."""

    def __init__(self, config: CnnConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width_in, height, width = config.in_channels, config.height, config.width
        for width_out in config.channels:
            layers += [nn.Conv2d(width_in, width_out, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width_out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            width_in, height, width = width_out, height // 2, width // 2
        self.features = nn.Sequential(*layers)
        flat = width_in * height * width
        head: list[nn.Module] = [nn.Flatten()]
        if config.hidden:
            head += [nn.Linear(flat, config.hidden), nn.ReLU(inplace=True),
                     nn.Dropout(config.dropout), nn.Linear(config.hidden, config.num_classes)]
        else:
            head += [nn.Dropout(config.dropout), nn.Linear(flat, config.num_classes)]
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # type: ignore[no-any-return]


class WithSoftmax(nn.Module):
    """What gets exported: the classifier's logits turned into probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_teacher_checkpoint(model: ConvClassifier, path: Path, *,
                            metadata: dict[str, Any]) -> None:
    """state_dict + the config that rebuilds the module (see ``load_teacher_checkpoint``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": CHECKPOINT_FORMAT,
                "architecture": "training.image.models.ConvClassifier",
                "config": asdict(model.config),
                "state_dict": model.state_dict(),
                "metadata": metadata}, path)


def load_teacher_checkpoint(path: Path) -> tuple[ConvClassifier, dict[str, Any]]:
    """The teacher in eval mode, plus its metadata (labels, image spec, accuracy)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a {CHECKPOINT_FORMAT} checkpoint")
    raw = dict(payload["config"])
    raw["channels"] = tuple(raw["channels"])
    model = ConvClassifier(CnnConfig(**raw))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), dict(payload["metadata"])
