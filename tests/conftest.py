from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from model_runtime import Settings, serve_model
from tests.support.clean_tree import tree_state, written_by_the_run
from tests.support.fake_s3 import BUCKET, REGION, fake_aws_environment
from tests.support.tiny_models import publish_tiny_tabular

ROOT = Path(__file__).resolve().parents[1]
_TREE_AT_START = pytest.StashKey[frozenset[str] | None]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_TREE_AT_START] = tree_state(ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when it wrote into the checkout (issue 17: `git status` stays clean)."""
    written = written_by_the_run(session.config.stash.get(_TREE_AT_START, None), ROOT)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("the test run wrote into the checkout (git status):", red=True)
            for line in written:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
