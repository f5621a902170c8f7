"""The web app's settings, read once: explicit argument > environment > default."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_kit.settings import SettingsError, settings_values
from model_store.base import LATEST, PROJECT_STORE
from webapp import constants as c

PROJECT_ROOT = PROJECT_STORE.parent
# The folder this package sits in, beside the handlers package: the function zip's root on
# Lambda (LAMBDA_TASK_ROOT), the project root (or a copy's) locally. Not LAMBDA_TASK_ROOT
# itself: serverless-offline sets it to /var/task while running the project's own files.
TASK_ROOT = Path(__file__).resolve().parents[1]
STATIC_ORIGIN = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


class WebSettingsError(SettingsError):
    """An environment variable holds a value the web app cannot use."""


def _first_existing(*candidates: Path) -> str:
    for path in candidates:
        if path.exists():
            return str(path)
    return str(candidates[-1])


@dataclass(frozen=True)
class WebSettings:
    model_source: str = ""
    model_version: str = LATEST
    static_url: str = ""
    bench_results: str = ""
    examples_dir: str = ""
    ort_dist: str = ""
    demo_function_prefix: str = ""
    demo_qualifier: str = c.DEFAULT_QUALIFIER
    demo_lambda_endpoint: str = ""
    # Running under serverless-offline (its IS_OFFLINE): never invoke AWS from there.
    offline: bool = False
    demo_max_body_bytes: int = c.DEFAULT_DEMO_MAX_BODY_BYTES
    model_memory_mb: int = c.DEFAULT_MODEL_MEMORY_MB
    opt_dir: str = c.DEFAULT_OPT_DIR
    # The pool list (pooled model → kind, ref); "": handlers/pool_models.json beside this
    # package (TASK_ROOT). No file: no pooled model.
    pool_models_file: str = ""

    def __post_init__(self) -> None:
        # Defaults that depend on where the app runs: Lambda (layers under /opt) or a checkout.
        opt = Path(self.opt_dir or c.DEFAULT_OPT_DIR)
        web_dir = opt / c.LAYER_WEB_DIR
        defaults = {
            "model_source": _first_existing(opt / "models", PROJECT_STORE),
            "bench_results": _first_existing(web_dir / "bench" / "results.json",
                                             PROJECT_ROOT / "bench" / "results" / "results.json"),
            "examples_dir": _first_existing(web_dir / "examples", PROJECT_ROOT / "examples"),
            "ort_dist": str(PROJECT_ROOT / "node_modules" / "onnxruntime-web" / "dist"),
            "pool_models_file": str(TASK_ROOT / c.DEFAULT_POOL_MODELS_FILE),
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        # Anything but an https origin (serverless-offline renders the template's CDN
        # reference as text it cannot resolve) means: this app serves /static itself.
        static = self.static_url.rstrip("/")
        object.__setattr__(self, "static_url", static if STATIC_ORIGIN.fullmatch(static) else "")
        for name in ("demo_max_body_bytes", "model_memory_mb"):
            if getattr(self, name) < 1:
                raise WebSettingsError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def serves_static(self) -> bool:
        """True when this app serves /static itself (locally); deployed, a CDN does."""
        return not self.static_url

    @property
    def demo_enabled(self) -> bool:
        return bool(self.demo_function_prefix)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> WebSettings:
        env = os.environ if env is None else env
        names = {
            "model_source": c.MODEL_SOURCE, "model_version": c.MODEL_VERSION,
            "static_url": c.STATIC_URL, "bench_results": c.BENCH_RESULTS,
            "examples_dir": c.EXAMPLES_DIR, "ort_dist": c.ORT_DIST,
            "demo_function_prefix": c.DEMO_FUNCTION_PREFIX,
            "demo_qualifier": c.DEMO_QUALIFIER,
            "demo_lambda_endpoint": c.DEMO_LAMBDA_ENDPOINT,
            "demo_max_body_bytes": c.DEMO_MAX_BODY_BYTES,
            "model_memory_mb": c.MODEL_MEMORY_MB, "opt_dir": c.OPT_DIR,
            "pool_models_file": c.POOL_MODELS_FILE,
        }
        values = settings_values(cls, names, env, overrides)
        values.setdefault("offline", env.get(c.IS_OFFLINE, "").strip().lower() == "true")
        return cls(**values)
