"""Settings resolution shared by every function: explicit argument > environment > default.

Each function keeps its settings in a frozen dataclass read once at init; ``settings_values``
fills it from the explicit arguments and the environment, the dataclass's defaults doing the
rest, and ``SettingsError`` names the variable that holds an unusable value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any


class SettingsError(ValueError):
    """An environment variable holds a value the runtime cannot use."""


def settings_values(cls: Any, names: Mapping[str, str], env: Mapping[str, str],
                    overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A settings dataclass's values: explicit argument > environment variable > default.

    ``names`` maps each field read from the environment to its variable; an empty variable
    counts as unset, and an ``int`` field must hold an integer (``SettingsError`` names it).
    """
    values: dict[str, Any] = {}
    for field in fields(cls):
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        variable = names.get(field.name)
        raw = env.get(variable, "").strip() if variable else ""
        if raw:
            values[field.name] = _coerce(raw, field.type, variable or field.name)
    return values


def _coerce(raw: str, annotation: Any, variable: str) -> Any:
    if annotation in (int, "int"):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{variable} must be an integer, got {raw!r}") from None
    return raw
