"""The pool's settings, read once at init: explicit argument > environment > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_kit.settings import SettingsError, settings_values
from model_runtime import constants as c


def default_models_file(env: Mapping[str, str]) -> str:
    """``pool_models.json`` beside the function's code (Lambda's task root, else the cwd)."""
    return str(Path(env.get(c.TASK_ROOT) or Path.cwd()) / c.DEFAULT_POOL_MODELS_FILE)


def default_memory_bytes(env: Mapping[str, str], percent: int) -> int:
    """``percent`` of the function's memory: the rest is Python, numpy, onnxruntime and the
    request being answered."""
    raw = env.get(c.FUNCTION_MEMORY_MB, "").strip()
    try:
        megabytes = int(raw) if raw else c.DEFAULT_FUNCTION_MEMORY_MB
    except ValueError:
        raise SettingsError(f"{c.FUNCTION_MEMORY_MB} must be an integer, got {raw!r}") from None
    return megabytes * 1024 * 1024 * percent // 100


@dataclass(frozen=True)
class PoolSettings:
    models_file: str
    memory_bytes: int
    max_models: int = 0  # 0: only the memory budget bounds the LRU
    alias_ttl_s: int = c.DEFAULT_POOL_ALIAS_TTL_S
    warm: str = ""  # comma-separated names loaded at init

    def __post_init__(self) -> None:
        if self.memory_bytes < 1:
            raise SettingsError(f"the pool's memory budget must be positive, got "
                                f"{self.memory_bytes}")
        if self.max_models < 0 or self.alias_ttl_s < 0:
            raise SettingsError("max_models and alias_ttl_s must be 0 or more")

    @property
    def warm_names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.warm.split(",") if n.strip())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> PoolSettings:
        env = os.environ if env is None else env
        names = {"models_file": c.POOL_MODELS_FILE, "memory_bytes": c.POOL_MEMORY_BYTES,
                 "max_models": c.POOL_MAX_MODELS, "alias_ttl_s": c.POOL_ALIAS_TTL_S,
                 "warm": c.POOL_WARM}
        values = settings_values(cls, names, env, overrides)
        values.setdefault("models_file", default_models_file(env))
        if "memory_bytes" not in values:
            percent = settings_values(_Percent, {"percent": c.POOL_MEMORY_PERCENT}, env, {})
            share = int(percent.get("percent", c.DEFAULT_POOL_MEMORY_PERCENT))
            if not 1 <= share <= 100:
                raise SettingsError(f"{c.POOL_MEMORY_PERCENT} must be 1 to 100, got {share}")
            values["memory_bytes"] = default_memory_bytes(env, share)
        return cls(**values)


@dataclass(frozen=True)
class _Percent:
    percent: int = c.DEFAULT_POOL_MEMORY_PERCENT
