"""Hypothesis strategies for JSON *text* of every kind a client can write, and the rest.

Drawn as text, not as Python objects that ``json.dumps`` would tidy up, so that what reaches
the handler can hold everything a client can send: integers of any length and sign
(including 309 digits, just past float's range), floats at their edges (±0.0, subnormals,
float and float32 maxima, literals like ``1e400`` that overflow), ``NaN``/``Infinity``/
``-Infinity`` as Python's ``json`` writes them, odd strings (NUL, lone surrogate escapes,
bidi controls, full-width and Arabic-Indic digits, a BOM), nesting just under and over the
depth limit, wide arrays and objects, and objects with duplicate keys.

``tests.support.event_strategies`` places one of these at a chosen position of an otherwise
valid body, so that a body can be right everywhere but in one place.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hypothesis import strategies as st

from model_runtime.constants import MAX_JSON_DEPTH

FLOAT_MAX = sys.float_info.max
FLOAT32_MAX = 3.4028234663852886e38
EDGE_INTEGERS = (
    "0", "-0", "1", "-1", str(2**31), str(2**53 + 1), str(-(2**63)), str(2**64),
    str(10**38), str(int(FLOAT32_MAX)), str(int(FLOAT32_MAX) + 2**105),
    str(10**308), str(int(FLOAT_MAX)), str(-int(FLOAT_MAX)),
    "18" + "0" * 307, "2" + "0" * 308, "-2" + "0" * 308, "1" + "0" * 400, "-" + "9" * 1000,
    "7" * 4301,
)
EDGE_FLOATS = (
    0.0, -0.0, 5e-324, -5e-324, 2.225073858507201e-308, sys.float_info.min, 1e-45,
    FLOAT32_MAX, -FLOAT32_MAX, 3.4028235677973366e38, 1e39, FLOAT_MAX, -FLOAT_MAX,
    float("nan"), float("inf"), float("-inf"),
)
EDGE_LITERALS = (
    "1e400", "-1e400", "1e-400", "-0.0", "0e0", "1E+308", "2e308", "-2E308", "4.9e-324",
    "1.00000000000000000000000000001", "0." + "0" * 400 + "1", "1" + "0" * 320 + ".5",
    "NaN", "Infinity", "-Infinity",
)
ODD_STRINGS = (
    "", " ", "\x00", "\ud800", "\udfff", "\u202e1", "ＮａＮ", "١٢٣", "²", "1e400", "NaN",
    "Infinity", "\ufeff", "🙂", "a\nb", "\\", '"', "0x10", "+3", "3.0", " 2", "2 ",
    "x" * 5000,
)
EDGES = st.sampled_from(EDGE_INTEGERS + EDGE_LITERALS + tuple(map(json.dumps, EDGE_FLOATS)))
_NUMBER_KINDS = (EDGES, EDGES, EDGES, st.floats().map(json.dumps), st.integers().map(str),
                 st.integers(-(10**330), 10**330).map(str))


@st.composite
def _numbers(draw: st.DrawFn) -> str:
    # The kind is drawn first (not one_of, which flattens nested choices and lets the many
    # branches of other strategies crowd out the edges, where readers break).
    return draw(_NUMBER_KINDS[draw(st.integers(0, len(_NUMBER_KINDS) - 1))])


NUMBERS = _numbers()


@st.composite
def strings(draw: st.DrawFn) -> str:
    """A JSON string literal: odd or drawn text, escaped or raw (lone surrogates too)."""
    text = draw(st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=20)))
    return json.dumps(text, ensure_ascii=draw(st.booleans()))


SCALARS = st.one_of(NUMBERS, NUMBERS, strings(), st.sampled_from(["null", "true", "false"]))
KEYS = st.one_of(st.sampled_from(['"instances"', '"b64"', '"top_k"', '""', '"a"']), strings())


@st.composite
def objects(draw: st.DrawFn, values: st.SearchStrategy[str]) -> str:
    """An object whose keys may repeat (Python's reader keeps the last)."""
    members = draw(st.lists(st.tuples(KEYS, values), max_size=4))
    return "{" + ",".join(f"{key}:{value}" for key, value in members) + "}"


@st.composite
def deep(draw: st.DrawFn) -> str:
    """A value nested around the depth limit (arrays and objects mixed)."""
    depth = draw(st.sampled_from([MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH,
                                  MAX_JSON_DEPTH + 1, 200, 5000]))
    opens = draw(st.lists(st.booleans(), min_size=depth, max_size=depth))
    inner = draw(SCALARS)
    head = "".join("[" if is_list else '{"k":' for is_list in opens)
    tail = "".join("]" if is_list else "}" for is_list in reversed(opens))
    return head + inner + tail


@st.composite
def wide(draw: st.DrawFn) -> str:
    """An array or object of many members (hundreds to tens of thousands)."""
    count = draw(st.sampled_from([65, 1000, 30_000]))
    item = draw(SCALARS)
    if draw(st.booleans()):
        return "[" + ",".join([item] * count) + "]"
    return "{" + ",".join(f'"k{i % 50}":{item}' for i in range(count)) + "}"


VALUES = st.one_of(
    SCALARS,
    st.recursive(SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        objects(inner)), max_leaves=8),
    deep(), wide())


def dumps(value: Any) -> str:
    """JSON text for a Python value, as Python's ``json`` writes it (NaN, Infinity)."""
    return json.dumps(value, ensure_ascii=False)


def obj(members: list[tuple[str, str]]) -> str:
    """An object from (key text, value text) pairs; keys may repeat."""
    return "{" + ",".join(f"{key}:{value}" for key, value in members) + "}"


def arr(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"
