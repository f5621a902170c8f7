from __future__ import annotations

from pathlib import Path

import pytest

from handlers.runtime import Settings, serve_model
from tests.support.tiny_models import publish_tiny_tabular

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_store(tmp_path: Path) -> Path:
    publish_tiny_tabular(tmp_path / "store")
    return tmp_path / "store"


@pytest.fixture
def tiny_handler(tiny_store: Path):
    return serve_model("tiny", settings=Settings(model_source=str(tiny_store)))
