"""Which fresh processes a run starts, in the order of every round.

Per place the code runs (the virtualenv; the packaged function on CPython 3.12 -I):

    floor, floor-l4l          onnxruntime + numpy: default settings / the handler's settings
    <model>/layer             the handler, every change in (the goals are judged on this)
    <model>/no-<change>       the same handler with one change undone (venv only), so each
                              change's gain is measured on its own, in the same run:
        blas        no BLAS thread setting (OpenBLAS starts its thread pool)
        bytecode    the runtime packages without .pyc (compiled at every cold start)
        lean-store  what the store's read path imported before (shutil, tempfile,
                    OpenSSL's hashlib, the alias code), imported first
        warm-up     FEATHERSERVE_WARMUP=0: the first request does the lazy work
    powertools                the like-for-like floor + Powertools Logger and Metrics alone
    <model>/s3, naive         as before: S3 via moto_server; the teachers served naively
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.packaged import PackagedFunction
from benchmarks.payloads import ModelRequests
from benchmarks.s3_fixture import S3Fixture
from benchmarks.scenarios import Scenario, ShippedModel, Teachers, floors, naive_scenarios

WARM_REQUESTS = 100
# What model_store's read path imported before it was made lean (see the module doc).
OLD_READ_PATH = ("shutil", "tempfile", "hashlib", "model_store.aliases",
                 "model_store.local_write")
POWERTOOLS = ("aws_lambda_powertools.logging", "aws_lambda_powertools.metrics")
CHANGES = {
    "blas": "one BLAS thread (OPENBLAS_NUM_THREADS=1 in the function's environment)",
    "bytecode": "bytecode for the project's code in the function zip",
    "lean-store": "lean import path for the runtime store",
    "warm-up": "first request's lazy work done at init (warm-up)",
}


@dataclass(frozen=True)
class CodeTrees:
    """The runtime packages staged for the venv: with and without bytecode."""

    bytecode: Path
    source: Path


def plan_scenarios(models: Mapping[str, ShippedModel], teachers: Mapping[str, Teachers],
                   requests: Mapping[str, ModelRequests], layer_root: Path,
                   s3: S3Fixture | None, *, code: CodeTrees, process_env: Mapping[str, str],
                   packaged: Mapping[str, PackagedFunction], ablations: bool = True
                   ) -> list[Scenario]:
    source = {"FEATHERSERVE_MODEL_SOURCE": str(layer_root)}
    tree = {"PYTHONPATH": str(code.bytecode)}
    scenarios = floors("venv", env=tree, process_env=process_env)
    for name, model in models.items():
        event = requests[name].first
        naive = naive_scenarios(model, teachers[name], event)
        handler = handler_scenario(model, event, env={**tree, **source, **process_env},
                                   baseline=naive[0].id if naive else None)
        scenarios.append(handler)
        if ablations:
            scenarios += ablated(handler, code, process_env)
        if s3 is not None:
            scenarios.append(replace(handler, id=f"{name}/s3", kind="s3",
                                     label=f"{name} handler, S3 (moto_server)",
                                     env={**handler.env, **s3.env,
                                          "FEATHERSERVE_MODEL_SOURCE": s3.source}))
        scenarios += naive
    if ablations:
        scenarios.append(Scenario(
            id="powertools", kind="extra", imports=("onnxruntime", "numpy", *POWERTOOLS),
            label="like-for-like floor + Powertools Logger and Metrics",
            env={**tree, **process_env}))
    scenarios += packaged_scenarios(models, requests, packaged, process_env)
    return scenarios


def handler_scenario(model: ShippedModel, event: Path, *, env: Mapping[str, str],
                     baseline: str | None) -> Scenario:
    return Scenario(
        id=f"{model.name}/layer", label=f"{model.name} handler, model layer folder",
        kind="layer", model=model.name, imports=("model_runtime",),
        init={"module": model.handler_module, "attribute": "handler"}, event=event,
        env=env, baseline=baseline, warm_requests=WARM_REQUESTS)


def ablated(handler: Scenario, code: CodeTrees, process_env: Mapping[str, str]
            ) -> list[Scenario]:
    """The handler with each change undone, one at a time."""
    name = handler.model
    without_blas = {k: v for k, v in handler.env.items() if k not in process_env}
    variants: dict[str, dict[str, Any]] = {
        "blas": {"env": without_blas},
        "bytecode": {"env": {**handler.env, "PYTHONPATH": str(code.source)}},
        "lean-store": {"imports": (*OLD_READ_PATH, *handler.imports)},
        "warm-up": {"env": {**handler.env, "FEATHERSERVE_WARMUP": "0"}},
    }
    return [replace(handler, id=f"{name}/no-{change}", kind="ablation", change=change,
                    label=f"{name} handler without: {CHANGES[change]}", **fields)
            for change, fields in variants.items()]


def packaged_scenarios(models: Mapping[str, ShippedModel],
                       requests: Mapping[str, ModelRequests],
                       packaged: Mapping[str, PackagedFunction],
                       process_env: Mapping[str, str]) -> list[Scenario]:
    """The function zip and layers on CPython 3.12 -I: two floors, then each handler."""
    if not packaged:
        return []
    first = next(iter(packaged.values()))
    command = (first.python, "-I", "-B")  # -B: Lambda's task root is read-only
    found = floors("packaged", env=first.env, command=command, sys_path=tuple(first.sys_path),
                   clean_env=True, process_env=process_env)
    for name, function in packaged.items():
        found.append(Scenario(
            id=f"packaged/{name}", kind="layer", where="packaged", model=name,
            label=f"{name} handler, packaged (CPython 3.12 -I, task root + layers)",
            imports=("model_runtime",), event=requests[name].first,
            init={"module": models[name].handler_module, "attribute": "handler"},
            env=function.env, clean_env=True, command=(function.python, "-I", "-B"),
            sys_path=tuple(function.sys_path), warm_requests=WARM_REQUESTS))
    return found
