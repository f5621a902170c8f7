"""serverless.yml as plain data, with the generated parts it includes read in.

The framework resolves ``${file(./generated/functions.yml)}`` itself; the tooling (pricing,
tests) only needs the shape, so whole-value ``${file(...)}`` includes of local YAML files are
read and every other variable is left as text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_WHOLE_FILE = re.compile(r"^\$\{file\((\./[^)]+\.ya?ml)\)\}$")


def load_service_config(path: Path) -> dict[str, Any]:
    import yaml  # tooling only

    config: dict[str, Any] = yaml.safe_load(path.read_text())
    for key, value in list(config.items()):
        match = _WHOLE_FILE.fullmatch(value) if isinstance(value, str) else None
        if match:
            config[key] = yaml.safe_load((path.parent / match.group(1)).read_text()) or {}
    return config
