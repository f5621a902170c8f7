"""A frontier: one model's students, each a measured point, and the build's choice."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_MAX_LOSS = 0.01


@dataclass(frozen=True)
class FrontierPoint:
    label: str                  # "hidden (16,)", "channels (12, 24, 32) int8"
    size_key: int               # parameters: what "smallest" means
    quantization: str
    accuracy: float | None
    teacher_accuracy: float | None
    file_bytes: int
    parameters: int | None
    store: str                  # the scratch store holding it (version 1 of the model)
    shipped: bool = False       # the configuration the project ships
    warm_us: float | None = None
    cold_ms: float | None = None
    cost_per_million: float | None = None
    error: str = ""             # why it could not be measured

    @property
    def accuracy_loss(self) -> float | None:
        if self.accuracy is None or self.teacher_accuracy is None:
            return None
        return self.teacher_accuracy - self.accuracy


@dataclass(frozen=True)
class Frontier:
    model: str
    points: tuple[FrontierPoint, ...]
    schedule: str               # how the sweep's students were trained

    def pick_smallest(self, max_loss: float = DEFAULT_MAX_LOSS) -> FrontierPoint | None:
        """The smallest student (parameters, then bytes) within ``max_loss`` of the teacher."""
        within = [p for p in self.points
                  if p.accuracy_loss is not None and p.accuracy_loss <= max_loss]
        return min(within, key=lambda p: (p.size_key, p.file_bytes), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "schedule": self.schedule,
                "points": [{**asdict(p), "accuracy_loss": p.accuracy_loss}
                           for p in self.points]}
