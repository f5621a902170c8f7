"""Pooled models (issue 19): the pool list, the pool entry modules and their generated parts.

A model is pooled when ``handlers/pool_models.json`` names it (``featherserve add NAME
--pooled`` writes it): the project's list of pooled models, shipped in the function zip as
the pool list the runtime reads (``model_runtime.pool``; docs/pool.md). Each model kind with
a pooled model gets one entry module, ``handlers/pool_<kind>.py``, one HTTP function with
ONE ``/models/{name}`` route pair (API Gateway picks a dedicated model's literal path
first), one batch function and one bulk queue fed by the bucket's ``in/<name>/``
notifications of its models. The template grows by O(1) resources per pooled model. With
no pooled model nothing here is written: the generated files stay as they were.

Each entry names the store alias the pool serves, ``live`` (as a dedicated model's function
has a Lambda alias ``live``): ``featherserve add NAME --pooled`` sets it when the store has
none, and ``featherserve promote``/``rollback`` move it; the pool reads it again after
``FEATHERSERVE_POOL_ALIAS_TTL_S``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model_store.base import ModelStore
from model_store.exceptions import ModelStoreError

POOL_LIST_FILE = "pool_models.json"
# The store alias a pooled model is served at (a dedicated model: its Lambda alias `live`).
POOL_ALIAS = "live"
POOL_KINDS = ("tabular", "image")
POOL_MODULES = frozenset(f"pool_{kind}" for kind in POOL_KINDS)

ENTRY_TEMPLATE = '''"""Lambda handler of the {kind} pool: every pooled {kind} model of the stage.

Written by `featherserve add NAME --pooled` (generated while a {kind} model is pooled, deleted
with the last one). Which models it serves is pool_models.json beside this module.
"""

import os
from pathlib import Path

from model_runtime.pool import serve_pool, serve_pool_batch

# The pool list ships in the function zip beside this module (an explicit
# FEATHERSERVE_POOL_MODELS_FILE still wins).
os.environ.setdefault("FEATHERSERVE_POOL_MODELS_FILE",
                      str(Path(__file__).with_name("{list_file}")))

handler = serve_pool("{kind}")
# Files dropped under in/<model>/ of the stage's bucket for this pool's models, one queue.
batch_handler = serve_pool_batch(handler)
'''


@dataclass(frozen=True)
class PoolGroup:
    """One kind's pool: its function and queue names; duck-types bulk_files.BulkModel."""

    kind: str
    models: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"pool_{self.kind}"

    @property
    def function(self) -> str:
        # A model name has no '-': never a model's function.
        return f"pool-{self.kind}"

    @property
    def layer_ref(self) -> str:
        # bulk_files derives the queue's logical id from this (BulkPoolTabularQueue).
        return f"Pool{self.kind.capitalize()}ModelLambdaLayer"


def pool_list_path(handlers_dir: Path) -> Path:
    return handlers_dir / POOL_LIST_FILE


def read_pooled(handlers_dir: Path) -> dict[str, str]:
    """Pooled name → kind, from the project's pool list (empty when there is none)."""
    path = pool_list_path(handlers_dir)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(e["name"]): str(e["kind"]) for e in data["models"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelStoreError(f"{path} is not a pool list ({exc}); it is written by "
                              "`featherserve add NAME --pooled`") from exc


def write_pooled(handlers_dir: Path, pooled: dict[str, str]) -> list[Path]:
    """Write the pool list and the entry modules it needs; delete what it no longer needs."""
    changed: list[Path] = []
    path = pool_list_path(handlers_dir)
    if pooled:
        models = [{"name": name, "kind": pooled[name], "ref": POOL_ALIAS}
                  for name in sorted(pooled)]
        text = json.dumps({"models": models}, indent=1) + "\n"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    elif path.is_file():
        path.unlink()
        changed.append(path)
    for kind in POOL_KINDS:
        entry = handlers_dir / f"pool_{kind}.py"
        if kind in pooled.values():
            text = ENTRY_TEMPLATE.format(kind=kind, list_file=POOL_LIST_FILE)
            if not entry.is_file() or entry.read_text(encoding="utf-8") != text:
                entry.write_text(text, encoding="utf-8")
                changed.append(entry)
        elif entry.is_file():
            entry.unlink()
            changed.append(entry)
    return changed


def ensure_pool_alias(store: ModelStore, name: str, version: str) -> str | None:
    """Point ``name``'s ``live`` alias at ``version`` when the store has no ``live`` alias
    for it (an existing one is never moved: that is `featherserve promote`'s job); the
    version set, or None when the alias was already there."""
    if POOL_ALIAS in store.aliases(name):
        return None
    store.set_alias(name, POOL_ALIAS, version)
    return version


def pool_groups(pooled: dict[str, str]) -> list[PoolGroup]:
    return [PoolGroup(kind, tuple(sorted(n for n, k in pooled.items() if k == kind)))
            for kind in POOL_KINDS if kind in pooled.values()]


def pool_function_lines(group: PoolGroup, memory_mb: int, max_body_bytes: int) -> list[str]:
    """The pool's HTTP function and its batch function (blocks of generated/functions.yml)."""
    from featherserve.codegen.bulk_files import queue_id

    return [
        f"{group.function}:",
        f"  handler: handlers/{group.name}.handler",
        f'  description: "The {group.kind} pool: {len(group.models)} pooled models, each '
        'loaded on first use from the model store"',
        f"  memorySize: {memory_mb}",
        "  environment:",
        f'    FEATHERSERVE_MAX_BODY_BYTES: "{max_body_bytes}"',
        "  layers:",
        "    - { Ref: RuntimeLambdaLayer }",
        "  events:",
        "    # One route pair for every pooled model; a dedicated model's literal path wins.",
        "    - http: { path: \"/models/{name}/predict\", method: any, private: true,",
        '               cors: "${self:custom.cors}" }',
        "    - http: { path: \"/models/{name}\", method: any, private: true,",
        '               cors: "${self:custom.cors}" }',
        "",
        f"{group.function}-batch:",
        f"  handler: handlers/{group.name}.batch_handler",
        f'  description: "The {group.kind} pool, bulk: files under in/<model>/ for its models"',
        "  memorySize: ${param:batchMemorySize}",
        "  timeout: ${param:batchTimeout}",
        "  environment:",
        '    FEATHERSERVE_BATCH_KEEP: "${param:batchKeep}"',
        '    FEATHERSERVE_BATCH_TARGET: "${param:batchTarget}"',
        f'    FEATHERSERVE_MAX_BODY_BYTES: "{max_body_bytes}"',
        '    FEATHERSERVE_BATCH_MAX_OBJECT_BYTES: "${param:batchMaxObjectBytes}"',
        "  layers:",
        "    - { Ref: RuntimeLambdaLayer }",
        "  events:",
        "    - sqs:",
        f'        arn: {{ "Fn::GetAtt": [{queue_id(group)}, Arn] }}',
        "        batchSize: ${param:batchSize}",
        "        functionResponseType: ReportBatchItemFailures",
        "        maximumConcurrency: ${param:batchMaxConcurrency}",
        "",
    ]


def notification_names(groups: Sequence[PoolGroup]) -> list[tuple[str, PoolGroup]]:
    return [(name, group) for group in groups for name in group.models]
