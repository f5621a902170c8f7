"""The thin handler module of each served model: ``handlers/<name>.py``.

A model is served when its module exists and names it in ``serve_model("<name>")``; that
module is the one registration, so ``make layers``, ``make serve`` and the template all
agree on which models have a function.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from featherserve.layers.runtime_layer import PROJECT_ROOT
from model_store.exceptions import ModelStoreError
from model_store.manifest import NAME_PATTERN

HANDLERS_DIR = PROJECT_ROOT / "handlers"
# Module names in handlers/ that are not (and can never be) a model's handler.
RESERVED_NAMES = frozenset({"runtime", "web", "batch", "handler", "handlers", "pool"})
_SERVES = re.compile(r'^handler = serve_model\("([a-z][a-z0-9_]*)"\)$', re.MULTILINE)

HANDLER_TEMPLATE = '''"""Lambda handler for the {name} model ({task}).

Written by `featherserve add {name}`; `featherserve remove {name}` deletes it. The whole
handler is shared code: this module only names its model.
"""

from model_runtime import serve_model
from model_runtime.batch import serve_batch

handler = serve_model("{name}")
# Files dropped under in/{name}/ of the stage's bucket, through SQS: the same loaded model.
batch_handler = serve_batch(handler)
'''


def check_model_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name) or keyword.iskeyword(name) or name in RESERVED_NAMES:
        raise ModelStoreError(
            f"{name!r} cannot name a served model: use lower-case letters, digits and "
            f"underscores, starting with a letter (not {', '.join(sorted(RESERVED_NAMES))})")


def handler_path(name: str, handlers_dir: Path = HANDLERS_DIR) -> Path:
    return handlers_dir / f"{name}.py"


def served_models(handlers_dir: Path = HANDLERS_DIR) -> list[str]:
    """The models with a handler module, sorted; a module naming another model is an error."""
    names = []
    for path in sorted(handlers_dir.glob("*.py")):
        match = _SERVES.search(path.read_text(encoding="utf-8"))
        if match is None:
            continue
        if match.group(1) != path.stem:
            raise ModelStoreError(f"{path} serves {match.group(1)!r}; a model's handler "
                                  f"module must be named after it ({match.group(1)}.py)")
        names.append(path.stem)
    return names


def write_handler(name: str, task: str, handlers_dir: Path = HANDLERS_DIR) -> Path | None:
    """Write the model's module unless it already serves that model; the path if written."""
    check_model_name(name)
    path = handler_path(name, handlers_dir)
    if path.exists():
        if name in served_models(handlers_dir):
            return None
        raise ModelStoreError(f"{path} exists and is not {name}'s handler; rename it first")
    path.write_text(HANDLER_TEMPLATE.format(name=name, task=task), encoding="utf-8")
    return path
