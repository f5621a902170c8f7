"""The set-up the end-to-end tests share: throwaway copies of the service or of the whole
project, their layers, the CLI run in a copy, and a mocked AWS (moto_server) to point it at.

The deploy tests run the real CLI on a snapshot of the service (serverless.yml, the local
plugins and the function code) in a temporary folder, so that its `.serverless/` output
and the code it zips belong to the test alone, with layers built from a temporary store
of tiny models: the shipped models and `build/layers` are never touched (`built_layers`
only builds them when a file runs on its own, as `make test` would have first).
The running stack (serverless-offline, `make serve`) is tests/support/stack.py.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import subprocess
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.fidelity.lambda_runtime import COMPLETE_MARKER
from featherserve.support.processes import (
    ROOT,
    VENV,
    free_port,
    run_cli,
    running,
    tool_env,
    wait_for_port,
)
from tests.support.tiny_models import publish_tiny_tabular

SERVICE_FILES = ("serverless.yml", "package.json")
# What `sls` reads: the template, its generated parts, the local plugins, and the runtime
# packages that `sls invoke local` and serverless-offline import from the service folder.
SERVICE_DIRS = ("serverless_plugins", "generated", "handlers", "model_store", "preprocessing",
                "lambda_kit", "model_runtime", "webapp")
# The moto-only plugin: loaded by the test suite's copies of the service, never by the
# service users deploy (serverless.yml does not list it).
MOCK_PLUGIN = Path(__file__).with_name("mock_aws.js")
# The models serverless.yml deploys; their layers are built from tiny stand-ins.
MODELS = ("breast_cancer", "digits")
MOCK_REGION = "us-east-1"
# What `make layers` writes (`make test` builds it before the suite).
BUILT_LAYERS = ROOT / "build" / "layers"
FEATHERSERVE = str(VENV / "bin" / "featherserve")


def snapshot_service(dest: Path, *, mock_aws: bool = True) -> Path:
    """Copy what `sls` reads into ``dest`` (node_modules is linked, not copied)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SERVICE_FILES:
        shutil.copy2(ROOT / name, dest / name)
    for name in SERVICE_DIRS:
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    if mock_aws:
        add_mock_plugin(dest)
    return dest


# A whole project beside the service: the tooling, training and the store, so that the
# `featherserve` CLI run from the copy (``project_env``) finds every default (models/,
# handlers/, generated/, build/layers, requirements/) under the copy, as in a user's checkout.
PROJECT_FILES = ("pyproject.toml",)
# (The runtime packages, webapp included, come with the service snapshot.)
PROJECT_DIRS = ("featherserve", "training", "models", "requirements", "examples")
# Cached layer builds the copy's `featherserve layers` reuses while they are current (no pip
# run). Copied, never linked: a rebuild writes its build-info in place.
LAYER_CACHES = ("runtime", "runtime.zip", "web", "web.zip")
# The fidelity runner's emulated /var/runtime: only read once complete, so linked.
FIDELITY_CACHE = Path("build") / "fidelity"


def snapshot_project(dest: Path) -> Path:
    """The service plus what the CLI needs to train, serve, build layers and package in it."""
    snapshot_service(dest, mock_aws=False)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    built, layers = ROOT / "build" / "layers", dest / "build" / "layers"
    layers.mkdir(parents=True)
    for name in LAYER_CACHES:
        source = built / name
        if source.is_dir():
            shutil.copytree(source, layers / name, symlinks=True)
        elif source.is_file():
            shutil.copy2(source, layers / name)
    (dest / FIDELITY_CACHE).mkdir(parents=True)
    for runtime in (ROOT / FIDELITY_CACHE).glob("lambda-runtime-*"):
        if (runtime / COMPLETE_MARKER).is_file():
            (dest / FIDELITY_CACHE / runtime.name).symlink_to(runtime, target_is_directory=True)
    return dest


def project_env(project: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment with the copy's packages first: its PROJECT_ROOT is the copy."""
    return tool_env({"PYTHONPATH": str(project), "PYTHONDONTWRITEBYTECODE": "1",
                     **(extra or {})})


def project_cli(project: Path, *args: str, env: Mapping[str, str] | None = None,
                timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``featherserve ARGS`` run in a project copy, as a user runs it there; it must succeed."""
    result = run_cli([FEATHERSERVE, *args], env=dict(env or project_env(project)),
                     cwd=project, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def built_layers(*needed: str) -> Path:
    """`make layers`' output folder, built here when one of ``needed`` is missing (a test
    file run on its own; `make test` builds the layers first)."""
    if not all((BUILT_LAYERS / name).is_file() for name in needed):
        result = run_cli([str(VENV / "bin/python"), "-m", "featherserve", "layers"],
                         env=tool_env(), timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
    return BUILT_LAYERS


def add_mock_plugin(service: Path) -> None:
    """Load the moto-only plugin in this copy (before serverless-offline, like a local one)."""
    shutil.copy2(MOCK_PLUGIN, service / "serverless_plugins" / MOCK_PLUGIN.name)
    config = service / "serverless.yml"
    text = config.read_text()
    anchor = "  - serverless-offline\n"
    if anchor not in text:
        raise AssertionError("serverless.yml lists no serverless-offline plugin to insert before")
    config.write_text(text.replace(anchor, f"  - ./serverless_plugins/{MOCK_PLUGIN.name}\n"
                                          + anchor, 1))


def publish_tiny_models(store: Path) -> None:
    for name in MODELS:
        publish_tiny_tabular(store, name)


def build_model_layers(store: Path, out: Path, models: tuple[str, ...] = MODELS) -> None:
    """`featherserve layers` for ``models`` only, without the runtime layer."""
    command = [str(VENV / "bin/python"), "-m", "featherserve", "layers", "--store", str(store),
               "--out", str(out), "--skip-runtime", "--models", ",".join(models)]
    result = run_cli(command, env=tool_env(), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def tiny_models_with_layers(root: Path) -> tuple[Path, Path]:
    """root/store holding the tiny stand-in models, and their model layers in root/layers
    (no runtime layer: each caller adds the one it needs)."""
    store, layers = root / "store", root / "layers"
    publish_tiny_models(store)
    build_model_layers(store, layers)
    return store, layers


def placeholder_runtime_zip(path: Path) -> Path:
    """A stand-in runtime layer for packaging tests, which never run the code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("python/featherserve_placeholder.py", "# packaging tests only\n")
    return path


def lambda_sha256(path: Path) -> str:
    """Lambda's CodeSha256 of a zip: base64 of its sha256 digest."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MotoServer:
    """A running moto_server on 127.0.0.1: its endpoint and its log."""

    endpoint: str
    log: Path

    def client(self, name: str) -> Any:
        return mock_client(name, self.endpoint)


@contextlib.contextmanager
def moto_server(folder: Path) -> Iterator[MotoServer]:
    """moto_server on a free loopback port, stopped with its process group on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), folder / "moto.log"
    command = [str(VENV / "bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with running(command, env=tool_env(), log_path=log, cwd=folder) as server:
        wait_for_port(port, server, log)
        yield MotoServer(f"http://127.0.0.1:{port}", log)


def mock_client(name: str, endpoint: str) -> Any:
    """A boto3 client of the moto server at ``endpoint``, with its dummy credentials."""
    import boto3

    return boto3.client(name, endpoint_url=endpoint, region_name=MOCK_REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def fake_credentials_env(endpoint: str, home: Path,
                         extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment against a moto server: dummy credentials, no real profile."""
    home.mkdir(parents=True, exist_ok=True)
    return tool_env({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": MOCK_REGION,
        "AWS_REGION": MOCK_REGION,
        # No ~/.aws of the person running the tests can leak in.
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        **(extra or {}),
    })


def mock_aws_env(endpoint: str, layers_dir: Path, home: Path,
                 extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``fake_credentials_env`` for `sls deploy` to moto: the mock plugin on, these layers."""
    return fake_credentials_env(endpoint, home, {
        "FEATHERSERVE_MOCK_AWS": "1",
        "FEATHERSERVE_LAYERS_DIR": str(layers_dir),
        **(extra or {}),
    })
