"""``featherserve web-static``: put the web pages' static files in a deployed stage's
static-assets bucket, which CloudFront serves (generated/web.yml).

They never go through a function: onnxruntime-web's wasm alone is larger than Lambda's 6 MB
response. The keys are the paths ``webapp/static_files.py`` names, all content-addressed,
so an object that is there already is the same bytes and is kept:

    app/<app_version>/<file>        webapp/static/*
    ort/<ORT_WEB_VERSION>/<file>    onnxruntime-web's wasm build (node_modules, npm ci)
    models/<name>/<sha256>.onnx     each deployed model's file (build/layers/models.json says
                                    which version the stage's layers carry) and each pooled
                                    model's at its ``live`` alias (what its pool serves)

Run it after ``sls deploy`` (``make deploy`` does), and again after publishing a model the
pages should run in the browser.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.codegen.handler_modules import HANDLERS_DIR
from featherserve.layers.exceptions import LayerBuildError
from featherserve.layers.runtime_layer import PROJECT_ROOT
from featherserve.project import project_store
from webapp.static_files import (
    IMMUTABLE,
    ORT_FILES,
    ORT_WEB_VERSION,
    app_files,
    app_version,
    content_type,
)

BUCKET_OUTPUT = "WebStaticBucketName"
URL_OUTPUT = "WebStaticUrl"
PROJECT_STORE = project_store()
LAYER_INDEX = PROJECT_ROOT / "build" / "layers" / "models.json"
ORT_DIST = PROJECT_ROOT / "node_modules" / "onnxruntime-web" / "dist"
EXIT_REFUSED = 1


class WebStaticError(Exception):
    """A file, the stage or its bucket is missing (the message says which and what to do)."""


@dataclass(frozen=True)
class StaticObject:
    key: str
    read: Callable[[], bytes]
    content_type: str


@dataclass(frozen=True)
class UploadReport:
    uploaded: tuple[str, ...]
    kept: tuple[str, ...]
    uploaded_bytes: int


def deployed_models(index: Path = LAYER_INDEX) -> dict[str, tuple[str, str]]:
    """name → (version, sha256) of the model layers the last build made (and deployed)."""
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise WebStaticError(f"{index} is missing or unreadable: run `make layers` (the "
                             "build you deployed) first") from None
    return {name: (str(entry["version"]), str(entry["sha256"])) for name, entry in data.items()}


def pooled_models(store: str | Path = PROJECT_STORE, handlers_dir: Path = HANDLERS_DIR
                  ) -> dict[str, tuple[str, str]]:
    """name → (version, sha256) of each pooled model at the version its pool serves (the
    store's ``live`` alias, as the web catalog shows it); none when nothing is pooled."""
    from featherserve.layers.web_layer import pooled_manifests
    from model_store.stores import open_store

    try:
        found = pooled_manifests(open_store(str(store)), handlers_dir)
    except LayerBuildError as exc:
        raise WebStaticError(str(exc)) from None
    return {p.manifest.name: (p.manifest.version, p.manifest.sha256) for p in found}


def static_objects(models: dict[str, tuple[str, str]], *, store: str | Path = PROJECT_STORE,
                   ort_dist: Path = ORT_DIST) -> list[StaticObject]:
    """Every object the pages load, in key order; the model files read (and verified) lazily."""
    objects = [StaticObject(f"app/{app_version()}/{name}", path.read_bytes, content_type(name))
               for name, path in app_files().items()]
    for name in ORT_FILES:
        path = ort_dist / name
        if not path.is_file():
            raise WebStaticError(f"{path} is missing: run `npm ci` (onnxruntime-web "
                                 f"{ORT_WEB_VERSION} from package.json)")
        objects.append(StaticObject(f"ort/{ORT_WEB_VERSION}/{name}", path.read_bytes,
                                    content_type(name)))
    for name, (version, sha256) in sorted(models.items()):
        objects.append(StaticObject(f"models/{name}/{sha256}.onnx",
                                    _model_reader(store, name, version, sha256),
                                    content_type(".onnx")))
    return sorted(objects, key=lambda o: o.key)


def _model_reader(store: str | Path, name: str, version: str, sha256: str
                  ) -> Callable[[], bytes]:
    def read() -> bytes:
        from model_store.stores import open_model

        opened = open_model(store, name, version)  # checks the bytes against the manifest
        if opened.manifest.sha256 != sha256:
            raise WebStaticError(f"{name} v{version} in {store} is not the deployed one "
                                 f"(sha256 {sha256[:12]}…): rebuild the layers and redeploy")
        return opened.model_bytes
    return read


def upload(client: Any, bucket: str, objects: Iterable[StaticObject]) -> UploadReport:
    """Upload what the bucket lacks; a key already there is the same content (its name says
    so) and is kept."""
    from botocore.exceptions import ClientError

    uploaded: list[str] = []
    kept: list[str] = []
    total = 0
    for item in objects:
        try:
            client.head_object(Bucket=bucket, Key=item.key)
            kept.append(item.key)
            continue
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        data = item.read()
        client.put_object(Bucket=bucket, Key=item.key, Body=data,
                          ContentType=item.content_type, CacheControl=IMMUTABLE)
        uploaded.append(item.key)
        total += len(data)
    return UploadReport(tuple(uploaded), tuple(kept), total)


def stage_outputs(client: Any, stage: str, service: str = "featherserve") -> dict[str, str]:
    """The deployed stack's outputs (``client``: a CloudFormation client)."""
    from botocore.exceptions import ClientError

    stack = f"{service}-{stage}"
    try:
        described = client.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        raise WebStaticError(f"no deployed stack {stack} ({exc}); deploy the stage first, "
                             "or name the bucket with --bucket") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def cmd_web_static(args: argparse.Namespace) -> int:
    import boto3

    try:
        outputs: dict[str, str] = {}
        bucket = args.bucket
        if not bucket:
            outputs = stage_outputs(boto3.client("cloudformation", region_name=args.region),
                                    args.stage)
            if BUCKET_OUTPUT not in outputs:
                raise WebStaticError(f"the stage {args.stage} has no {BUCKET_OUTPUT} output: "
                                     "is generated/web.yml in its template?")
            bucket = outputs[BUCKET_OUTPUT]
        # A dedicated model's layer version wins over its pooled entry (a model is either).
        models = {**pooled_models(args.store, Path(args.handlers)),
                  **deployed_models(Path(args.index))}
        objects = static_objects(models, store=args.store)
        if args.dry_run:
            for item in objects:
                print(f"s3://{bucket}/{item.key}")
            return 0
        report = upload(boto3.client("s3", region_name=args.region), bucket, objects)
    except WebStaticError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as exc:  # S3's and the credentials' own errors: one line, no traceback
        if not type(exc).__module__.startswith(("botocore", "boto3", "s3transfer")):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    for key in report.uploaded:
        print(f"uploaded s3://{bucket}/{key}", file=sys.stderr)
    print(f"{len(report.uploaded)} uploaded ({report.uploaded_bytes / 1e6:.1f} MB), "
          f"{len(report.kept)} already there, in s3://{bucket}"
          + (f"; served at {outputs[URL_OUTPUT]}" if URL_OUTPUT in outputs else ""),
          file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "web-static", help="upload the web pages' static files (JS, CSS, onnxruntime-web, "
                           "model files) to a deployed stage's CDN bucket")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--region", default=None)
    parser.add_argument("--bucket", default=None,
                        help=f"the bucket (default: the stage's stack output {BUCKET_OUTPUT})")
    parser.add_argument("--store", default=str(PROJECT_STORE), metavar="LOCATION",
                        help="where the deployed models' files are (default: models/)")
    parser.add_argument("--index", default=str(LAYER_INDEX), metavar="FILE",
                        help="which model versions are deployed (default: the layer build's "
                             "models.json)")
    parser.add_argument("--handlers", default=str(HANDLERS_DIR), metavar="DIR",
                        help="where the pool list pool_models.json is (default: handlers/): "
                             "pooled models' files are uploaded at their live version")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the objects, upload nothing")
    parser.set_defaults(run=cmd_web_static)


__all__: Sequence[str] = ("StaticObject", "UploadReport", "WebStaticError",
                          "deployed_models", "pooled_models", "register", "static_objects",
                          "upload")
