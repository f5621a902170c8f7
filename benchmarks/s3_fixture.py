"""A real ``moto_server`` on 127.0.0.1 holding the frozen models, published with ``S3Store``.

The server runs in its own process group, which is stopped whatever happens. Children get
dummy credentials, empty AWS config files and ``AWS_ENDPOINT_URL``; each S3 sample gets a
cache folder that does not exist yet, so every sample is a true cold download.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.children import child_env
from benchmarks.scenarios import ShippedModel
from featherserve.support.processes import free_port, running, wait_for_port

BUCKET = "featherserve-bench"
PREFIX = "models"
REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                     "AWS_SESSION_TOKEN": "testing"}


@dataclass(frozen=True)
class S3Fixture:
    endpoint: str
    source: str                      # s3://bucket/prefix, for FEATHERSERVE_MODEL_SOURCE
    env: Mapping[str, str]           # what a child needs to reach it
    published: Mapping[str, str]     # model name -> version in S3
    server_pid: int                  # moto_server's process (and group) id


@contextlib.contextmanager
def moto_s3(scratch: Path, models: Mapping[str, ShippedModel]) -> Iterator[S3Fixture]:
    """Start moto_server, publish ``models`` to it, and stop it (its whole group) at exit."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    aws_home = scratch / "aws"
    aws_home.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": REGION,
                           "AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true"}
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = aws_home / name.lower()
        empty.write_text("")
        env[name] = str(empty)
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    log_path = scratch / "moto_server.log"
    with running(command, env=child_env(), log_path=log_path) as server:
        wait_for_port(port, server, log_path, timeout=60)
        source = f"s3://{BUCKET}/{PREFIX}"
        published = publish(endpoint, source, models)
        yield S3Fixture(endpoint=endpoint, source=source, env=env, published=published,
                        server_pid=server.pid)


def publish(endpoint: str, source: str, models: Mapping[str, ShippedModel]) -> dict[str, str]:
    import boto3

    from model_store.s3 import S3Store

    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing",
        aws_session_token="testing", region_name=REGION,
    ).client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    store = S3Store(source, client=client)
    return {name: store.publish(model.manifest, model.model_file).version
            for name, model in models.items()}


def cache_env(cache_dir: Path) -> dict[str, str]:
    """Point the handler's S3 model cache (``FEATHERSERVE_MODEL_CACHE``) at ``cache_dir``."""
    from model_runtime import constants

    return {constants.MODEL_CACHE: str(cache_dir)}
