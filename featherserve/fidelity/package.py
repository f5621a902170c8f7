"""Read a `.serverless/` folder as `sls package` wrote it into the functions to run.

The template (``cloudformation-template-update-stack.json``) says what each function is;
an ``S3Key`` names the zip the deploy would upload, found by its file name in the folder
itself or among the ``artifact`` paths ``serverless-state.json`` records (a service or
function ``package.artifact``, a layer's ``package.artifact``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from featherserve.fidelity.cloudformation import FUNCTION, Template
from featherserve.fidelity.exceptions import ArtifactNotFound, FidelityError, TemplateError
from featherserve.fidelity.model import FunctionSpec, ServiceSpec
from featherserve.fidelity.triggers import FunctionTriggers, triggers_by_function

TEMPLATE_FILE = "cloudformation-template-update-stack.json"
STATE_FILE = "serverless-state.json"
LAYER = "AWS::Lambda::LayerVersion"
Locate = Callable[[str], Path]


def load_package(folder: Path) -> ServiceSpec:
    """Every ``AWS::Lambda::Function`` of the packaged template, its zips found on disk."""
    template_path = folder / TEMPLATE_FILE
    if not template_path.is_file():
        raise FidelityError(f"{template_path} not found: run `sls package` (make package) first")
    document = json.loads(template_path.read_text())
    state_path = folder / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    service = state.get("service") or {}
    provider = service.get("provider") or {}
    stage = str(provider.get("stage") or "dev")
    region = str(provider.get("region") or "us-east-1")
    template = Template.from_json(document, region=region,
                                  stack_name=f"{service.get('service', 'service')}-{stage}")
    keys = {str(f.get("name")): key for key, f in (service.get("functions") or {}).items()
            if isinstance(f, dict)}
    artifacts = ArtifactIndex(folder, list(_artifact_paths(state)))
    triggers = triggers_by_function(template)
    functions = tuple(
        function_from_template(template, logical_id, artifacts.locate, keys,
                               triggers.get(logical_id, FunctionTriggers()))
        for logical_id, _ in template.of_type(FUNCTION))
    return ServiceSpec(stage, region, functions, source=str(template_path))


def function_from_template(template: Template, logical_id: str, locate: Locate,
                           keys: Mapping[str, str], triggers: FunctionTriggers) -> FunctionSpec:
    props = template.properties(logical_id)
    function_name = str(template.resolve(props.get("FunctionName")) or logical_id)
    try:
        code = locate(_s3_key(template, props.get("Code") or {}, logical_id))
        layers = tuple(locate(_layer_key(template, layer, logical_id))
                       for layer in props.get("Layers") or [])
        variables = (props.get("Environment") or {}).get("Variables") or {}
        environment, notes = {}, []
        for variable, value in variables.items():
            before = set(template.stand_ins)
            environment[variable] = _text(template.resolve(value))
            notes += [f"environment {variable}: {stand_in} is only known after a deploy "
                      "(a stand-in here)" for stand_in in sorted(template.stand_ins - before)]
    except TemplateError as exc:
        raise TemplateError(f"function {keys.get(function_name, logical_id)}: {exc}") from exc
    return FunctionSpec(
        name=keys.get(function_name, function_name), function_name=function_name,
        handler=str(props.get("Handler", "")), code=code, layers=layers,
        runtime=str(props.get("Runtime", "")), timeout=float(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)), environment=environment,
        routes=triggers.routes, queues=triggers.queues, notes=tuple(notes))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _s3_key(template: Template, code: Mapping[str, Any], owner: str) -> str:
    if "S3Key" in code:
        return str(template.resolve(code["S3Key"]))
    if "ImageUri" in code:
        raise TemplateError(f"{owner} is a container image; the runner runs zip functions")
    raise TemplateError(f"{owner} has no S3Key in its code ({sorted(code)})")


def _layer_key(template: Template, layer: Any, function: str) -> str:
    if isinstance(layer, dict) and "Ref" in layer and template.kind(layer["Ref"]) == LAYER:
        return _s3_key(template, template.properties(layer["Ref"]).get("Content") or {},
                       layer["Ref"])
    raise TemplateError(f"layer {template.resolve(layer)!r} of {function} is not a layer of "
                        "this package, so its bytes are not here to run")


def _artifact_paths(state: Any) -> Iterator[str]:
    """Every ``artifact`` path the framework recorded (services, functions, layers)."""
    if isinstance(state, dict):
        for key, value in state.items():
            if key == "artifact" and isinstance(value, str):
                yield value
            else:
                yield from _artifact_paths(value)
    elif isinstance(state, list):
        for item in state:
            yield from _artifact_paths(item)


class ArtifactIndex:
    """Finds the local file behind an S3Key: ``<folder>/<name>`` or a recorded artifact."""

    def __init__(self, folder: Path, recorded: list[str]) -> None:
        self.folder = folder
        self.recorded = recorded

    def locate(self, s3_key: str) -> Path:
        name = PurePosixPath(s3_key).name
        candidates = [self.folder / name] + [
            self._absolute(p) for p in self.recorded if PurePosixPath(p).name == name]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        recorded = ", ".join(sorted(set(self.recorded))) or "none"
        raise ArtifactNotFound(f"{name} (S3Key {s3_key}) is not in {self.folder} nor among the "
                               f"artifacts serverless-state.json records ({recorded})")

    def _absolute(self, path: str) -> Path:
        # The framework records artifact paths as written in serverless.yml: relative ones
        # are relative to the service folder, the parent of .serverless/.
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.folder.parent / candidate
