"""Pooled models (issue 19): the pool list, the pool entry module and their generated parts.

A model is pooled when ``handlers/pool_models.json`` names it (``featherserve add NAME
--pooled`` writes it): the project's list of pooled models, shipped in the function zip as
the pool list the runtime reads (``model_runtime.pool``; docs/pool.md). While any model is
pooled, ONE entry module, ``handlers/pool.py``, serves them all, of every kind: one HTTP
function ``pool`` with ONE ``/models/{name}`` route pair (API Gateway picks a dedicated
model's literal path first), one batch function ``pool-batch`` and one bulk queue fed by the
bucket's ``in/<name>/`` notifications of its models, and the packed layer
``pool-models.zip`` (every pooled model's ``live`` version, under /opt/models:
featherserve/layers/pool_layer.py). The template grows by O(1) resources per pooled model.
With no pooled model nothing here is written: the generated files stay as they were.

Why one function and not one per kind (or per kind and memory size): API Gateway's REST API
keeps ONE integration per method of a resource, and every pooled model is reached through
the same resource ``/models/{name}`` (its name is only known at request time), so that
route can reach one function. A second pool function would need routes of its own
(``/tabular/{name}``...), breaking the contract's ``/models/{name}`` that clients cannot
tell from a dedicated model's. So the one pool function answers each model by its entry's
kind, with the largest body limit of the kinds it pools and its own memory size
(``poolMemorySize``); a model that needs other settings is served dedicated.

Each entry names the store alias the pool serves, ``live`` (as a dedicated model's function
has a Lambda alias ``live``): ``featherserve add NAME --pooled`` sets it when the store has
none, and ``featherserve promote``/``rollback`` move it; the pool reads it again after
``FEATHERSERVE_POOL_ALIAS_TTL_S`` (from S3; the packed layer is rebuilt by `make layers`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from featherserve.layers.pool_layer import (
    POOL_FUNCTION,
    POOL_LAYER_FILE,
    POOL_LAYER_KEY,
    POOL_LAYER_REF,
)
from model_store.base import ModelStore
from model_store.pool_list import KINDS, PoolList, PoolListError
from model_store.pool_list import POOL_ALIAS as POOL_ALIAS

POOL_LIST_FILE = "pool_models.json"
# POOL_ALIAS (imported): the store alias a pooled model is served at (a dedicated model:
# its Lambda alias `live`); POOL_KINDS: "tabular", "image". Both are the pool list's.
POOL_KINDS = KINDS
POOL_MODULE = "pool"
# Entry modules of the per-kind pools this kit generated before one pool served every kind:
# deleted when the pool list is written again.
FORMER_MODULES = tuple(f"pool_{kind}" for kind in POOL_KINDS)

ENTRY_TEMPLATE = '''"""Lambda handler of the pool: every pooled model of the stage, of every kind.

Written by `featherserve add NAME --pooled` (generated while a model is pooled, deleted with
the last one). Which models it serves is {list_file} beside this module.
"""

import os
from pathlib import Path

from model_runtime.pool import serve_pool, serve_pool_batch

# The pool list ships in the function zip beside this module (an explicit
# FEATHERSERVE_POOL_MODELS_FILE still wins).
os.environ.setdefault("FEATHERSERVE_POOL_MODELS_FILE",
                      str(Path(__file__).with_name("{list_file}")))

handler = serve_pool()
# Files dropped under in/<model>/ of the stage's bucket for the pooled models, one queue.
batch_handler = serve_pool_batch(handler)
'''


@dataclass(frozen=True)
class PoolFunction:
    """The stage's one pool: its function, module and queue names; a bulk_files.BulkModel."""

    models: tuple[tuple[str, str], ...]  # (name, kind), sorted by name

    @property
    def name(self) -> str:
        # The module (handlers/pool.py) and the queue's name; "pool" is no model's name.
        return POOL_MODULE

    @property
    def function(self) -> str:
        return POOL_FUNCTION

    @property
    def queue_key(self) -> str:
        return "Pool"  # BulkPoolQueue

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.models)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in POOL_KINDS if any(kind == k for _, kind in self.models))


def pool_list_path(handlers_dir: Path) -> Path:
    return handlers_dir / POOL_LIST_FILE


def read_pooled(handlers_dir: Path) -> dict[str, str]:
    """Pooled name → kind, from the project's pool list (empty when there is none); a
    malformed list raises ``PoolListError``, a ``ModelStoreError``."""
    try:
        listed = PoolList.read(pool_list_path(handlers_dir), missing_ok=True)
    except PoolListError as exc:
        raise PoolListError(f"{exc}; it is written by `featherserve add NAME --pooled`") \
            from exc
    return {entry.name: entry.kind for entry in listed}


def write_pooled(handlers_dir: Path, pooled: dict[str, str]) -> list[Path]:
    """Write the pool list and the entry modules it needs; delete what it no longer needs."""
    list_text: str | None = None
    entry_text: str | None = None
    if pooled:
        models = [{"name": name, "kind": pooled[name], "ref": POOL_ALIAS}
                  for name in sorted(pooled)]
        list_text = json.dumps({"models": models}, indent=1) + "\n"
        entry_text = ENTRY_TEMPLATE.format(list_file=POOL_LIST_FILE)
    wanted = [(pool_list_path(handlers_dir), list_text),
              (handlers_dir / f"{POOL_MODULE}.py", entry_text),
              # The per-kind entry modules an older kit wrote: never wanted now.
              *((handlers_dir / f"{former}.py", None) for former in FORMER_MODULES)]
    return [path for path, text in wanted if _sync_file(path, text)]


def _sync_file(path: Path, text: str | None) -> bool:
    """Make ``path`` hold ``text`` (None: not exist); True when that changed the file."""
    if text is None:
        if not path.is_file():
            return False
        path.unlink()
        return True
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def ensure_pool_alias(store: ModelStore, name: str, version: str) -> str | None:
    """Point ``name``'s ``live`` alias at ``version`` when the store has no ``live`` alias
    for it (an existing one is never moved: that is `featherserve promote`'s job); the
    version set, or None when the alias was already there."""
    if POOL_ALIAS in store.aliases(name):
        return None
    store.set_alias(name, POOL_ALIAS, version)
    return version


def pool_function(pooled: Mapping[str, str]) -> PoolFunction | None:
    """The stage's pool (None when no model is pooled)."""
    return PoolFunction(tuple(sorted(pooled.items()))) if pooled else None


def pool_function_lines(pool: PoolFunction, max_body_bytes: int) -> list[str]:
    """The pool's HTTP function and its batch function (blocks of generated/functions.yml)."""
    from featherserve.codegen.bulk_files import queue_id

    kinds = " and ".join(pool.kinds)
    layers = ["  layers:",
              "    - { Ref: RuntimeLambdaLayer }",
              "    # Every pooled model's live version under /opt/models, read when the stage's",
              "    # modelSource is empty; with modelSource: s3://... the pool reads S3.",
              f"    - {{ Ref: {POOL_LAYER_REF} }}"]
    return [
        "# The pool: ONE function for every pooled model of every kind. API Gateway's REST API",
        "# keeps one integration per method on /models/{name}, so that route reaches one",
        "# function; it answers each model by its kind (featherserve/codegen/pool_files.py).",
        f"{pool.function}:",
        f"  handler: handlers/{POOL_MODULE}.handler",
        f'  description: "The pool: {len(pool.models)} pooled {kinds} models, each loaded on '
        'first use"',
        "  memorySize: ${param:poolMemorySize}",
        "  environment:",
        "    # The largest body limit of the kinds it pools.",
        f'    FEATHERSERVE_MAX_BODY_BYTES: "{max_body_bytes}"',
        *layers,
        "  events:",
        "    # One route pair for every pooled model; a dedicated model's literal path wins.",
        "    - http: { path: \"/models/{name}/predict\", method: any, private: true,",
        '               cors: "${self:custom.cors}" }',
        "    - http: { path: \"/models/{name}\", method: any, private: true,",
        '               cors: "${self:custom.cors}" }',
        "",
        f"{pool.function}-batch:",
        f"  handler: handlers/{POOL_MODULE}.batch_handler",
        '  description: "The pool, bulk: files under in/<model>/ for its models"',
        "  memorySize: ${param:batchMemorySize}",
        "  timeout: ${param:batchTimeout}",
        "  environment:",
        '    FEATHERSERVE_BATCH_KEEP: "${param:batchKeep}"',
        '    FEATHERSERVE_BATCH_TARGET: "${param:batchTarget}"',
        f'    FEATHERSERVE_MAX_BODY_BYTES: "{max_body_bytes}"',
        '    FEATHERSERVE_BATCH_MAX_OBJECT_BYTES: "${param:batchMaxObjectBytes}"',
        *layers,
        "  events:",
        "    - sqs:",
        f'        arn: {{ "Fn::GetAtt": [{queue_id(pool)}, Arn] }}',
        "        batchSize: ${param:batchSize}",
        "        functionResponseType: ReportBatchItemFailures",
        "        maximumConcurrency: ${param:batchMaxConcurrency}",
        "",
    ]


def pool_layer_lines(pool: PoolFunction) -> list[str]:
    """The packed pool-models layer (a block of generated/layers.yml)."""
    return [
        f"{POOL_LAYER_KEY}:",
        "  name: ${self:service}-${sls:stage}-pool-models",
        f'  description: "{len(pool.models)} pooled models\' live versions, under /opt/models"',
        "  compatibleRuntimes: [python3.12]",
        "  package:",
        f"    artifact: ${{self:custom.layersDir}}/{POOL_LAYER_FILE}",
        "",
    ]
