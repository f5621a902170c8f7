"""Bulk scoring settings, read once at init: explicit argument > environment > default."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambda_kit.settings import SettingsError, settings_values
from model_runtime import constants as c
from model_runtime.batch.columns import ColumnChoice

INPUT_PREFIX = "in/"
OUTPUT_PREFIX = "out/"
PREDICTIONS_SUFFIX = ".predictions.jsonl"
SUMMARY_SUFFIX = ".summary.json"
# S3's longest key, in UTF-8 bytes: an input key near it leaves no room for its outputs.
MAX_KEY_BYTES = 1024
# Where the summary of a file whose own summary key would be too long goes.
LONG_KEYS_FOLDER = "_key_too_long/"
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
    # A chunk of rows also ends once it took this many bytes of the file (rows alone do not
    # bound memory: 1,024 wide JSON rows can parse to gigabytes of values).
    chunk_bytes: int = c.DEFAULT_BATCH_CHUNK_BYTES
    # Columns that pass through to each output line, comma-separated ("": every column that
    # is not a feature), and the column to score against ("": none). batch/columns.py.
    keep: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        for name in ("max_object_bytes", "chunk_rows", "chunk_bytes"):
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
        names = {"max_object_bytes": c.BATCH_MAX_OBJECT_BYTES, "chunk_bytes": c.BATCH_CHUNK_BYTES,
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


def key_bytes(key: str) -> int:
    return len(key.encode("utf-8", "surrogatepass"))


def long_key_summary_key(model: str, key: str) -> str:
    """Where the summary of ``in/<model>/<rest>`` goes when its own summary key would pass
    S3's limit: named by the input key's SHA-256 (the summary names the input in full)."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{OUTPUT_PREFIX}{model}/{LONG_KEYS_FOLDER}{digest}{SUMMARY_SUFFIX}"
