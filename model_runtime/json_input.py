"""The one JSON decoding of client input: bounded depth, bounded numbers, UTF-8 only.

``json.loads`` recurses once per nesting level (a body of 100,000 ``[`` is a RecursionError
deep inside the parser) and turns a 400-digit integer into an ``int`` that no float can
hold. So before parsing, a linear pre-scan measures the nesting depth (brackets inside
strings do not count) and refuses anything deeper than ``MAX_JSON_DEPTH``; while parsing,
integers of float's largest width or more (309 digits: ``2`` and 308 zeros is already past
float's range) become floats, ``inf`` when too large, exactly what the literal ``1e400``
becomes, so the instance validator answers all of them with the same 422 naming the feature.

It also counts the values (every ``,`` ``[`` ``{`` outside strings starts one): a 4.5 MB
body of ``[],[],...`` is 1.5 million Python lists, ~100 MB and half a second to build,
for a request the contract would refuse anyway (64 instances at most).

    400 malformed_json   not UTF-8, not JSON, or nested deeper than MAX_JSON_DEPTH
    413 too_many_values  more than MAX_JSON_VALUES values
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from lambda_kit.errors import BadRequest, PayloadTooLarge
from model_runtime.constants import MAX_JSON_DEPTH, MAX_JSON_VALUES

_UTF8_BOM = b"\xef\xbb\xbf"
_KEEP = b'"[]{},'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_STRING = re.compile(rb'"[^"]*"')
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[list(b"[{")] = 1
_DEPTH_STEP[list(b"]}")] = -1
# float's largest finite value has 309 digits: an integer literal of 308 digits or fewer
# always fits a float; a longer one is read as a float (``inf`` when beyond its range).
_MAX_INT_DIGITS = 308


def parse_json(data: bytes | str, what: str = "the body", hint: str = "") -> Any:
    """Decode client JSON, or raise ``BadRequest(code="malformed_json")`` saying what is wrong.

    ``hint`` is appended to every error message (e.g. what the Content-Type should be).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed(f"{what} is not valid UTF-8 (at byte {exc.start})", hint) from None
    structure = _structure(raw)
    depth = _depth(structure)
    if depth > MAX_JSON_DEPTH:
        raise _malformed(f"{what} nests arrays and objects {depth} deep; the limit is "
                         f"{MAX_JSON_DEPTH}", hint)
    values = structure.count(b",") + structure.count(b"[") + structure.count(b"{")
    if values > MAX_JSON_VALUES:
        raise PayloadTooLarge(f"{what} holds more than {MAX_JSON_VALUES} JSON values; send "
                              "fewer or smaller instances", code="too_many_values")
    try:
        return json.loads(text, parse_constant=_non_standard_constant, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise _malformed(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column "
                         f"{exc.colno})", hint) from None
    except RecursionError:  # the pre-scan makes this unreachable; a guard, not a path
        raise _malformed(f"{what} nests arrays and objects too deep", hint) from None


def nesting_depth(raw: bytes) -> int:
    """How deep ``[`` and ``{`` nest in JSON text, outside strings."""
    return _depth(_structure(raw))


def _structure(raw: bytes) -> bytes:
    """The brackets and commas of JSON text that lie outside strings; linear, C-speed.

    Escaped backslashes and quotes are removed first (left to right, as a JSON reader pairs
    them), then everything but quotes, brackets and commas, then whole strings. Text after
    an unterminated string is dropped: the parser refuses the document anyway.
    """
    structure = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _DROP)
    structure = _STRING.sub(b"", structure)
    return structure.split(b'"', 1)[0]


def _depth(structure: bytes) -> int:
    if structure.count(b"[") + structure.count(b"{") <= MAX_JSON_DEPTH:
        return structure.count(b"[") + structure.count(b"{")
    steps = _DEPTH_STEP[np.frombuffer(structure, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _integer(literal: str) -> int | float:
    digits = len(literal) - literal.startswith("-")
    return int(literal) if digits <= _MAX_INT_DIGITS else float(literal)


def _non_standard_constant(token: str) -> float:
    # NaN and ±Infinity are not JSON, but clients send them; parse so the instance
    # validator can answer 422 naming the feature, rather than a vague 400.
    return float(token.replace("Infinity", "inf"))


def _malformed(message: str, hint: str) -> BadRequest:
    return BadRequest(f"{message}{'; ' + hint if hint else ''}", code="malformed_json")
