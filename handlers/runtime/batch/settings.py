"""Bulk scoring settings, read once at init: explicit argument > environment > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.runtime import constants as c
from handlers.runtime.batch.columns import ColumnChoice
from handlers.runtime.settings import SettingsError, settings_values

INPUT_PREFIX = "in/"
OUTPUT_PREFIX = "out/"
PREDICTIONS_SUFFIX = ".predictions.jsonl"
SUMMARY_SUFFIX = ".summary.json"
# S3's smallest multipart part is 5 MiB; 8 MiB is the output held in memory at once.
DEFAULT_PART_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class BatchSettings:
    max_object_bytes: int = c.DEFAULT_BATCH_MAX_OBJECT_BYTES
    chunk_rows: int = c.DEFAULT_BATCH_CHUNK_ROWS
    # Only this bucket's notifications are served ("": whichever bucket the queue hears).
    bucket: str = ""
    part_bytes: int = DEFAULT_PART_BYTES
    # Stop scoring this long before Lambda's timeout, to abort cleanly and say why.
    deadline_margin_s: float = 15.0
    # Columns that pass through to each output line, comma-separated ("": every column that
    # is not a feature), and the column to score against ("": none). batch/columns.py.
    keep: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        for name in ("max_object_bytes", "chunk_rows"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.part_bytes < 5 * 1024 * 1024:
            raise SettingsError("part_bytes must be at least 5 MiB (S3's smallest part)")

    @property
    def columns(self) -> ColumnChoice:
        return ColumnChoice.of(self.keep, self.target)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> BatchSettings:
        env = os.environ if env is None else env
        names = {"max_object_bytes": c.BATCH_MAX_OBJECT_BYTES,
                 "chunk_rows": c.BATCH_CHUNK_ROWS, "bucket": c.BATCH_BUCKET,
                 "keep": c.BATCH_KEEP, "target": c.BATCH_TARGET}
        return cls(**settings_values(cls, names, env, overrides))


def output_keys(model: str, key: str) -> tuple[str, str] | None:
    """``in/<model>/<rest>`` → (predictions key, summary key); None for any other key."""
    prefix = f"{INPUT_PREFIX}{model}/"
    if not key.startswith(prefix) or key.endswith("/") or len(key) == len(prefix):
        return None
    rest = key[len(prefix):]
    base = f"{OUTPUT_PREFIX}{model}/{rest}"
    return base + PREDICTIONS_SUFFIX, base + SUMMARY_SUFFIX
