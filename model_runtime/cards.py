"""The model card's JSON, bounded: a manifest can carry any amount of prose, a response can't.

Lambda refuses a synchronous response over 6 MB (the client would see a 502), and a card
is read by people and the catalog page, not parsed for megabytes of description. Over
``MAX_CARD_BYTES``, long strings are shortened first; if that is not enough, only the
fields a client needs to call the model are kept. Either way ``"truncated": true`` says so.
"""

from __future__ import annotations

import json
from typing import Any

MAX_CARD_BYTES = 256 * 1024
_MAX_TEXT = 1000
_ESSENTIAL = ("name", "version", "task", "input", "output", "labels", "file", "sha256", "bytes")


def card_json(card: dict[str, Any], limit: int = MAX_CARD_BYTES) -> str:
    body = _dumps(card)
    if len(body) <= limit:
        return body
    shortened = {**_shorten(card), "truncated": True}
    body = _dumps(shortened)
    if len(body) <= limit:
        return body
    essential = {key: shortened[key] for key in _ESSENTIAL if key in shortened}
    body = _dumps({**essential, "truncated": True})
    if len(body) <= limit:
        return body
    return _dumps({key: card.get(key) for key in ("name", "version", "task")}
                  | {"truncated": True})


def _shorten(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT - 1] + "…"
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shorten(item) for item in value]
    return value


def _dumps(card: dict[str, Any]) -> str:
    return json.dumps(card, separators=(",", ":"))
