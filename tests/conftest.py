from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from model_runtime import Settings, serve_model
from tests.support.fake_s3 import BUCKET, REGION, fake_aws_environment
from tests.support.tiny_models import publish_tiny_tabular

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_store(tmp_path: Path) -> Path:
    publish_tiny_tabular(tmp_path / "store")
    return tmp_path / "store"


@pytest.fixture
def tiny_handler(tiny_store: Path):
    return serve_model("tiny", settings=Settings(model_source=str(tiny_store)))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A mocked AWS (moto, in process) with fake credentials and the test bucket created."""
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield
