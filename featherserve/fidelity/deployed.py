"""A deployed stack as the runner's functions: the bytes Lambda stored, run again locally.

For every ``AWS::Lambda::Function`` of the stack, its configuration (handler, runtime,
timeout, memory, environment, layers) comes from ``GetFunction``, and its code zip and each
layer's zip (``GetLayerVersion``) are the objects of the deployment bucket whose size
and sha256 are the ``CodeSize`` and ``CodeSha256`` Lambda reports for them: exactly the
bytes Lambda keeps. Routes and queues come from the deployed template, as for a package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from featherserve.fidelity.cloudformation import FUNCTION, Template
from featherserve.fidelity.exceptions import FidelityError
from featherserve.fidelity.model import FunctionSpec, ServiceSpec
from featherserve.fidelity.triggers import FunctionTriggers, triggers_by_function

ClientFactory = Callable[[str], Any]  # boto3 service name → client


def deployed_service(client: ClientFactory, stack_name: str, dest: Path, *, region: str,
                     stage: str, unattached_layers: Mapping[str, Sequence[str]] | None = None
                     ) -> ServiceSpec:
    """``unattached_layers``: FunctionName → layer names (their latest versions), for a mock
    whose functions report no layers (moto 5 with tests/support/mock_aws.js)."""
    cloudformation, lam = client("cloudformation"), client("lambda")
    body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    document = json.loads(body) if isinstance(body, str) else body
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for page in pages
                for r in page["StackResourceSummaries"] if r.get("PhysicalResourceId")}
    template = Template.from_json(document, region=region, stack_name=stack_name,
                                  physical_ids=physical)
    triggers = triggers_by_function(template)
    functions = []
    for logical_id, props in template.of_type(FUNCTION):
        config = lam.get_function(FunctionName=physical[logical_id])["Configuration"]
        name = config["FunctionName"]
        bucket = BucketBytes(client("s3"), str(template.resolve(props["Code"]["S3Bucket"])),
                             dest / name)
        code = bucket.find(config["CodeSha256"], config["CodeSize"], f"the code of {name}")
        arns = [layer["Arn"] for layer in config.get("Layers") or []] or [
            _latest_version(lam, layer) for layer in (unattached_layers or {}).get(name, ())]
        layers = []
        for arn in arns:
            layer, version = arn.rsplit(":", 1)  # arn:aws:lambda:...:layer:NAME:VERSION
            content = lam.get_layer_version(LayerName=layer, VersionNumber=int(version))["Content"]
            layers.append(bucket.find(content["CodeSha256"], content["CodeSize"], arn))
        found = triggers.get(logical_id, FunctionTriggers())
        functions.append(FunctionSpec(
            name=name.removeprefix(f"{stack_name}-"), function_name=name,
            handler=config["Handler"], code=code, layers=tuple(layers),
            runtime=config.get("Runtime", ""), timeout=float(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
            environment=dict((config.get("Environment") or {}).get("Variables") or {}),
            routes=found.routes, queues=found.queues))
    return ServiceSpec(stage, region, tuple(functions), source=f"stack {stack_name}")


def layers_in_state(state: Mapping[str, Any]) -> dict[str, list[str]]:
    """FunctionName → its layers' names (or ARNs), from a ``serverless-state.json``: what a
    deploy asked for, where the mock keeps no layers on the functions."""
    service = state.get("service") or {}
    declared = (service.get("initialServerlessConfig") or {}).get("layers") or {}
    # The framework's logical id of a layer: its key, "-" → "Dash", "_" → "Underscore",
    # first letter upper-cased, then "LambdaLayer".
    names = {_normalized(key) + "LambdaLayer": str(layer.get("name") or key)
             for key, layer in declared.items() if isinstance(layer, dict)}
    found: dict[str, list[str]] = {}
    for function in (service.get("functions") or {}).values():
        layers = _dereferenced(state, function.get("layers")) if isinstance(function, dict) else 0
        if isinstance(layers, list):
            found[str(function.get("name"))] = [
                names.get(str(layer.get("Ref")), str(layer.get("Ref")))
                if isinstance(layer, dict) else str(layer) for layer in layers]
    return found


def _dereferenced(state: Any, value: Any) -> Any:
    """The state file writes a repeated object once, then ``{"$ref": '$["a"]["b"]'}``."""
    if isinstance(value, dict) and isinstance(value.get("$ref"), str):
        for key in re.findall(r'\["([^"]*)"\]', value["$ref"]):
            state = state.get(key) if isinstance(state, dict) else None
        return state
    return value


def _normalized(key: str) -> str:
    text = key.replace("-", "Dash").replace("_", "Underscore")
    return text[:1].upper() + text[1:]


def _latest_version(lam: Any, layer: str) -> str:
    if layer.startswith("arn:") and layer.count(":") == 7:
        return layer  # a layer version ARN already
    versions = lam.list_layer_versions(LayerName=layer)["LayerVersions"]
    if not versions:
        raise FidelityError(f"layer {layer} has no version")
    return str(max(versions, key=lambda v: v["Version"])["LayerVersionArn"])


class BucketBytes:
    """Objects of the deployment bucket, found by the size and sha256 Lambda reports."""

    def __init__(self, s3: Any, bucket: str, dest: Path) -> None:
        self.s3, self.bucket, self.dest = s3, bucket, dest
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        self.sizes = [(o["Key"], o["Size"]) for page in pages for o in page.get("Contents", [])]

    def find(self, code_sha256: str, size: int, what: str) -> Path:
        for key, object_size in self.sizes:
            if object_size != size:
                continue
            data = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            if base64.b64encode(hashlib.sha256(data).digest()).decode() == code_sha256:
                self.dest.mkdir(parents=True, exist_ok=True)
                path = self.dest / f"{hashlib.sha256(data).hexdigest()[:16]}.zip"
                path.write_bytes(data)
                return path
        raise FidelityError(f"no object in s3://{self.bucket} has the bytes Lambda keeps for "
                            f"{what} ({size} bytes, CodeSha256 {code_sha256})")
