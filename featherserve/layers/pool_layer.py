"""The packed pool-models layer: every pooled model's ``live`` version in one zip.

The pool function (``handlers/pool.py``) has no model layer of its own: with the stage's
``modelSource`` empty (the default), it reads its models from ``/opt/models``, laid out as a
model layer lays out a store (``<name>/<version>/`` with the manifest and the model file,
and ``<name>/aliases.json`` so that ``live`` resolves). This layer is that store, built by
`make layers` from ``handlers/pool_models.json``. With ``modelSource: s3://...`` the pool
reads S3 instead, exactly as without the layer.

The layer is frozen at build time: with it, `featherserve promote` of a pooled model is
served after `make layers` and a deploy; with an S3 store, within the alias TTL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from featherserve.layers.exceptions import LayerBuildError
from featherserve.layers.limits import LambdaLimits, format_bytes
from featherserve.layers.model_layer import ModelRef, plan_model_layer
from featherserve.layers.zipping import LayerEntry, LayerSpec
from model_store.base import ModelStore
from model_store.exceptions import ModelStoreError

POOL_LAYER_NAME = "pool-models"
POOL_LAYER_FILE = f"{POOL_LAYER_NAME}.zip"
# serverless.yml's layer key (generated/layers.yml); CloudFormation's logical id follows.
POOL_LAYER_KEY = "poolModels"
POOL_LAYER_REF = "PoolModelsLambdaLayer"
# The alias the pool serves (featherserve.codegen.pool_files.POOL_ALIAS: kept equal by a test).
POOL_REF = "live"
POOL_FUNCTION = "pool"
WAY_OUT = ("Way out: serve the pooled models from an S3 store instead of the layer: "
           "`featherserve publish NAME --to s3://bucket/prefix` for each, set the stage's "
           "`modelSource` param to s3://bucket/prefix, and build with "
           "FEATHERSERVE_POOL_LAYER=empty (the pool then reads S3; its layer holds no model); "
           "or serve the largest models dedicated (`featherserve remove NAME`, then "
           "`featherserve add NAME`).")
# FEATHERSERVE_POOL_LAYER=empty: a stage whose pool reads S3 packs no model in the layer.
POOL_LAYER_ENV = "FEATHERSERVE_POOL_LAYER"
EMPTY = "empty"
EMPTY_NOTE = (f"{POOL_LAYER_NAME}/README.txt",
              b"No pooled model is packed here (FEATHERSERVE_POOL_LAYER=empty): the pool "
              b"reads its models from the stage's modelSource (s3://bucket/prefix).\n")


def pool_layer_zip(out_dir: Path) -> Path:
    return out_dir / POOL_LAYER_FILE


def plan_pool_layer(store: ModelStore, names: Sequence[str], out_dir: Path, *,
                    empty: bool = False) -> LayerSpec:
    """Read and verify each pooled model's ``live`` version; describe the one packed layer
    (nothing written). ``empty``: the layer holds a note only (the pool reads S3)."""
    entries: list[LayerEntry] = []
    if empty:
        entries.append(LayerEntry(EMPTY_NOTE[0], data=EMPTY_NOTE[1]))
        description = "no pooled model packed: the pool reads modelSource"
    else:
        for name in sorted(names):
            try:
                spec = plan_model_layer(store, ModelRef(name, POOL_REF), out_dir)
            except ModelStoreError as exc:
                raise LayerBuildError(
                    f"pooled model {name}: cannot pack its {POOL_REF!r} version ({exc}); set "
                    f"it with `featherserve promote {name} VERSION`") from exc
            entries += spec.entries
        description = f"{len(names)} pooled models' {POOL_REF} versions, under /opt/models"
    return LayerSpec(name=POOL_LAYER_NAME, zip_path=pool_layer_zip(out_dir),
                     entries=tuple(entries), description=description)


def unzipped_bytes(spec: LayerSpec) -> int:
    return sum(len(entry.read()) for entry in spec.entries)


def refuse_oversized(spec: LayerSpec, code_bytes: int, runtime_bytes: int, models: int,
                     limits: LambdaLimits) -> None:
    """Before the zip is written: the pool function (its code, the runtime layer and this
    one) must unzip within Lambda's limit; else a refusal with the numbers and the way out."""
    packed = unzipped_bytes(spec)
    total = code_bytes + runtime_bytes + packed
    if total <= limits.max_unzipped_bytes:
        return
    raise LayerBuildError(
        f"function {POOL_FUNCTION!r}: the {POOL_LAYER_NAME} layer packs {models} pooled models "
        f"in {format_bytes(packed)} ({packed:,} bytes); with the code "
        f"({format_bytes(code_bytes)}) and the runtime layer ({format_bytes(runtime_bytes)}) "
        f"the function would unzip to {format_bytes(total)} ({total:,} bytes), over Lambda's "
        f"{format_bytes(limits.max_unzipped_bytes)} ({limits.max_unzipped_bytes:,} bytes) "
        f"limit. No model layer was written. {WAY_OUT}")
