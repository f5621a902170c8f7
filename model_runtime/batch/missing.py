"""The CSV cells that mean "no value": exactly those pandas' ``read_csv`` reads as missing by
default, so a file that trained (training and ``featherserve import`` read it with pandas)
scores the same way. The runtime does not import pandas: the set is written out here, and
tests/model_runtime/test_missing_cells.py checks it against pandas' own default set.

A cell matches whole and as written: ``NA`` is missing, `` NA`` and ``na`` are text (as
pandas reads them). A cell of spaces only is missing too (an empty cell a spreadsheet
padded). JSON Lines has its own ``null``: a JSON string ``"NA"`` stays a string.
"""

from __future__ import annotations

# pandas._libs.parsers.STR_NA_VALUES (pandas 2 and 3), the default ``na_values``.
MISSING_CELLS: frozenset[str] = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def is_missing_cell(cell: str) -> bool:
    """A CSV cell that holds no value (a JSON client would send ``null``)."""
    return cell in MISSING_CELLS or not cell.strip()
