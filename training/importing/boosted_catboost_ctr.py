"""CatBoost's target statistics (CTRs) as lookup tables the graph reads.

A CTR split tests ``ctr(projection) > border``, where the projection is one or more
categorical columns (and a few number or one-hot bits), hashed together as CatBoost's own
applier does (``calc_hash``), and the CTR is computed from the counts the model keeps for
that hash. Every combination of the data file's categories (plus one code for a category
never seen) is evaluated here, once, into a 0/1 table; the graph indexes it by the row's
codes. Ported from the Python applier CatBoost exports (``save_model(format="python")``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.errors import UnsupportedModelError
from training.importing.boosted_trees import Lookup, LookupPart

_MASK = 0xFFFFFFFFFFFFFFFF
_MAGIC = 0x4906BA494954CB65
UNSEEN_HASH = 0x7FFFFFFF  # what CatBoost's applier hashes a value it has no hash for to
MAX_TABLE = 1_000_000     # combinations one CTR's table may hold (a second of Python each)
_COUNTED = ("Borders", "Buckets", "Counter", "FeatureFreq")


def calc_hash(a: int, b: int) -> int:
    return (_MAGIC * ((a + _MAGIC * b) & _MASK)) & _MASK


@dataclass(frozen=True)
class CategoryHashes:
    """Per categorical flat feature: the hash of each code's value (the last code: unseen)."""

    by_feature: dict[int, list[int]]


def ctr_lookups(dump: dict[str, Any], cat_flat: dict[int, int], float_flat: dict[int, int],
                floats: dict[int, Any], hashes: CategoryHashes
                ) -> tuple[tuple[Lookup, ...], dict[int, int]]:
    """The lookups, and for each CTR split's ``split_index`` the lookup it reads."""
    info = dump["features_info"]
    ctrs = info.get("ctrs", [])
    offset = sum(len(f.get("borders", [])) for f in info.get("float_features", [])) + \
        sum(len(f.get("values", [])) for f in info.get("categorical_features", []))
    by_split: dict[int, tuple[int, int]] = {}
    index = offset
    for number, ctr in enumerate(ctrs):
        for border_number in range(len(ctr.get("borders", []))):
            by_split[index] = (number, border_number)
            index += 1
    lookups: list[Lookup] = []
    split_lookup: dict[int, int] = {}
    values_cache: dict[int, np.ndarray] = {}
    for tree in dump.get("oblivious_trees", []):
        for split in tree.get("splits", []):
            if split["split_type"] != "OnlineCtr" or split["split_index"] in split_lookup:
                continue
            if split["split_index"] not in by_split:
                raise UnsupportedModelError("a CatBoost CTR split names no CTR of the model")
            number, border_number = by_split[split["split_index"]]
            ctr = ctrs[number]
            border = float(ctr["borders"][border_number])
            if abs(border - float(split["border"])) > 1e-6 * max(1.0, abs(border)):
                raise UnsupportedModelError("a CatBoost CTR split's border differs from its "
                                            "CTR's (an export this kit does not know)")
            if number not in values_cache:
                values_cache[number] = _ctr_values(ctr, dump["ctr_data"], cat_flat,
                                                   float_flat, floats, hashes)
            parts = _parts(ctr, cat_flat, float_flat, floats)
            table = (values_cache[number] > np.float32(border)).astype(np.float32)
            split_lookup[split["split_index"]] = len(lookups)
            lookups.append(Lookup(parts, table))
    return tuple(lookups), split_lookup


def _parts(ctr: dict[str, Any], cat_flat: dict[int, int], float_flat: dict[int, int],
           floats: dict[int, Any]) -> tuple[LookupPart, ...]:
    """The table's axes: each categorical column the projection reads (once), then each
    number bit, in the order the elements list them."""
    cats: list[int] = []
    bits: list[LookupPart] = []
    for element in ctr["elements"]:
        kind = element["combination_element"]
        if kind in ("cat_feature_value", "cat_feature_exact_value"):
            flat = cat_flat[element["cat_feature_index"]]
            if flat not in cats:
                cats.append(flat)
        elif kind == "float_feature":
            flat = float_flat[element["float_feature_index"]]
            high = floats[flat].get("nan_value_treatment") == "AsTrue"
            bits.append(LookupPart(flat, float(element["border"]), high))
        else:
            raise UnsupportedModelError(f"CatBoost CTR element {kind!r} is not supported")
    return tuple(LookupPart(f) for f in cats) + tuple(bits)


def _ctr_values(ctr: dict[str, Any], ctr_data: dict[str, Any], cat_flat: dict[int, int],
                float_flat: dict[int, int], floats: dict[int, Any],
                hashes: CategoryHashes) -> np.ndarray:
    kind = ctr["ctr_type"]
    if kind not in _COUNTED:
        raise UnsupportedModelError(f"CatBoost CTR type {kind!r} is not supported "
                                    f"({', '.join(_COUNTED)} are)")
    data = ctr_data[ctr["identifier"]]
    stride = int(data["hash_stride"])
    flat_map = data["hash_map"]
    counts = {int(flat_map[i]): [float(v) for v in flat_map[i + 1:i + stride]]
              for i in range(0, len(flat_map), stride)}
    parts = _parts(ctr, cat_flat, float_flat, floats)
    axes = [range(len(hashes.by_feature[p.feature])) if p.border is None else range(2)
            for p in parts]
    size = int(np.prod([len(a) for a in axes]))
    if size > MAX_TABLE:
        raise UnsupportedModelError(
            f"a CatBoost CTR combines categorical columns into {size} combinations (more "
            f"than {MAX_TABLE}); retrain with a smaller max_ctr_complexity (e.g. 2)")
    position = {p.feature: i for i, p in enumerate(parts) if p.border is None}
    bit_of = {(p.feature, p.border): i for i, p in enumerate(parts) if p.border is not None}
    values = np.empty(size, np.float32)
    for flat_index, combination in enumerate(itertools.product(*axes)):
        result = 0
        binarized: list[int] = []
        for element in ctr["elements"]:
            kind = element["combination_element"]
            if kind == "cat_feature_value":
                flat = cat_flat[element["cat_feature_index"]]
                result = calc_hash(result, hashes.by_feature[flat][combination[position[flat]]])
            elif kind == "cat_feature_exact_value":
                flat = cat_flat[element["cat_feature_index"]]
                hashed = hashes.by_feature[flat][combination[position[flat]]]
                binarized.append(int(hashed == int(element["value"])))
            else:
                flat = float_flat[element["float_feature_index"]]
                binarized.append(combination[bit_of[(flat, float(element["border"]))]])
        for bit in binarized:
            result = calc_hash(result, bit)
        values[flat_index] = _value(ctr, counts.get(result), data)
    return values


def _value(ctr: dict[str, Any], counts: Sequence[float] | None, data: dict[str, Any]
           ) -> np.float32:
    kind, border = ctr["ctr_type"], int(ctr.get("target_border_idx", 0))
    if counts is None:
        good, total = 0.0, 0.0
    elif kind in ("Counter", "FeatureFreq"):
        good, total = counts[0], float(data.get("counter_denominator", 0))
    elif kind == "Buckets":
        good, total = counts[border], sum(counts)
    elif len(counts) > 2:
        good = sum(counts[border + 1:])
        total = sum(counts[:border + 1]) + good
    else:
        good, total = counts[1], counts[0] + counts[1]
    prior_num = np.float32(ctr.get("prior_numerator", 0.0))
    prior_denom = np.float32(ctr.get("prior_denomerator", ctr.get("prior_denominator", 1.0)))
    share = (np.float32(good) + prior_num) / (np.float32(total) + prior_denom)
    return np.float32((share + np.float32(ctr.get("shift", 0.0)))
                      * np.float32(ctr.get("scale", 1.0)))


def hash_keys(dump: dict[str, Any]) -> set[int]:
    """Every projection hash the model keeps counts for (to recognise the missing filler)."""
    keys: set[int] = set()
    for data in dump.get("ctr_data", {}).values():
        stride = int(data["hash_stride"])
        keys |= {int(k) for k in data["hash_map"][::stride]}
    return keys
