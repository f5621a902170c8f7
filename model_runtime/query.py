"""Query parameters, validated in one place (``?top_k=`` is the contract's only one).

Only ASCII digits make a number here: ``"²".isdigit()`` is true and ``int("٣")`` is 3,
and a 5,000-digit string is refused by ``int`` itself; neither reaches ``int``.
"""

from __future__ import annotations

from collections.abc import Mapping

from lambda_kit.errors import BadRequest

_MAX_DIGITS = 6
_SHOWN = 20


def top_k_param(query: Mapping[str, str], classes: int, default: int) -> int:
    """``?top_k=`` as an int from 1 to ``classes`` (0: a regression model, which has no
    ranking); ``min(default, classes)`` when absent."""
    raw = query.get("top_k")
    if raw is None:
        return min(default, classes)
    if classes == 0:
        raise BadRequest("top_k applies to classifiers; this model predicts a value",
                         code="invalid_top_k")
    value = _whole_number(raw)
    if value is None or not 1 <= value <= classes:
        shown = raw if len(raw) <= _SHOWN else raw[:_SHOWN] + "…"
        raise BadRequest(f"top_k must be a whole number from 1 to {classes} written in digits "
                         f"0-9, got {shown!r}", code="invalid_top_k")
    return value


def _whole_number(raw: str) -> int | None:
    if not (0 < len(raw) <= _MAX_DIGITS and raw.isascii() and raw.isdigit()):
        return None
    return int(raw)
