"""The import matrix: models trained the way their libraries' docs teach, on tables
generated with text categories and missing values, for `featherserve import`.

Each family adds its cases in its own module (``import_cases_sklearn``,
``import_cases_boosted``, ...) as ``CASES: list[ImportCase]``; ``all_cases`` collects them,
``tests/training/test_import_matrix.py`` runs them, and ``render_support_table`` writes the README's
support table from the same list (a test fails when the two disagree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Task = Literal["classification", "regression"]
# How a case's table is read: pandas' default inference (``str`` text on pandas 3,
# ``object`` on 2), or with the text columns as ``category`` / nullable dtypes.
TableDtypes = Literal["default", "object", "category", "nullable"]


@dataclass(frozen=True)
class ImportCase:
    family: str          # the support table's group, e.g. "scikit-learn estimators"
    name: str            # the row: what the user trained, e.g. "RandomForestClassifier"
    task: Task
    # Trains on (features, target) the way the library's docs teach and saves the model
    # file into the folder the way they teach; returns the file to import.
    train: Callable[[pd.DataFrame, pd.Series, Path], Path]
    dtypes: TableDtypes = "default"
    note: str = ""       # shown in the support table (what is supplied, what is refused)
    served: bool = False  # also answered through the real handler in the matrix test

    @property
    def id(self) -> str:
        return f"{self.family}: {self.name}"


NUMBERS = ("length", "width", "weight", "age")
TEXTS = ("colour", "region", "grade")


def mixed_table(task: Task, rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """A table users have: numbers and text categories, missing values in several columns
    (NaN in numbers, None in text), a target that depends on both. Returns (frame, target)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "length": rng.normal(50, 10, rows).round(2),
        "width": rng.normal(20, 5, rows).round(2),
        "weight": rng.gamma(4, 500, rows).round(1),
        "age": rng.integers(0, 30, rows).astype(float),
        "colour": rng.choice(["red", "green", "blue", "amber"], rows),
        "region": rng.choice(["north", "south", "east", "west", "centre"], rows),
        "grade": rng.choice(["A", "B", "C"], rows, p=[0.5, 0.3, 0.2]),
    })
    signal = (0.08 * (frame["length"] - 50) + 0.15 * (frame["width"] - 20)
              + frame["colour"].map({"red": 1.2, "green": -0.8, "blue": 0.3, "amber": 0.0})
              + frame["grade"].map({"A": 0.6, "B": 0.0, "C": -0.9})
              + rng.normal(0, 0.3, rows))
    for column, share in (("length", 0.08), ("weight", 0.1), ("age", 0.05)):
        frame.loc[rng.random(rows) < share, column] = np.nan
    for column, share in (("colour", 0.07), ("region", 0.1)):
        frame[column] = frame[column].astype(object)
        frame.loc[rng.random(rows) < share, column] = None
    if task == "classification":
        frame["label"] = np.where(signal > 0.5, "high", np.where(signal < -0.5, "low", "mid"))
    else:
        frame["label"] = (10 * signal + 100).round(3)
    return frame, "label"


def user_frame(frame: pd.DataFrame, dtypes: TableDtypes) -> pd.DataFrame:
    """The table as the user holds it when training: read back from its CSV by the pandas
    installed (``default``: ``str`` text on pandas 3, ``object`` on 2, NaN where missing),
    or as ``mixed_table`` builds it (``object``: None in text), with the text columns as
    ``category``, or with pandas' nullable dtypes (``Int64``, ``string`` and a ``boolean``
    column, ``pd.NA`` where missing)."""
    if dtypes == "default":
        import io

        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        buffer.seek(0)
        return pd.read_csv(buffer)
    out = frame.copy()
    if dtypes == "category":
        for column in TEXTS:
            out[column] = out[column].astype("category")
    elif dtypes == "nullable":
        out["age"] = out["age"].astype("Int64")
        for column in TEXTS:
            out[column] = out[column].astype("string")
        member = (frame["width"] > 20).astype("boolean")
        member[frame["length"].isna()] = pd.NA
        out.insert(len(NUMBERS) + len(TEXTS), "member", member)
    return out


def all_cases() -> list[ImportCase]:
    import importlib
    import pkgutil

    import tests.support as support

    cases: list[ImportCase] = []
    for module in sorted(m.name for m in pkgutil.iter_modules(support.__path__)):
        if module.startswith("import_cases_"):
            cases.extend(importlib.import_module(f"tests.support.{module}").CASES)
    return cases


TABLE_START = "<!-- import-support-table: start (python -m tests.support.import_cases) -->"
TABLE_END = "<!-- import-support-table: end -->"


def render_support_table(cases: list[ImportCase]) -> str:
    lines = ["| family | model | task | table | notes |", "|---|---|---|---|---|"]
    for case in cases:
        lines.append(f"| {case.family} | {case.name} | {case.task} | {case.dtypes} "
                     f"| {case.note} |")
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str, cases: list[ImportCase]) -> str:
    """The README with the text between the table's markers replaced by the rendered table."""
    start, end = readme.index(TABLE_START) + len(TABLE_START), readme.index(TABLE_END)
    return readme[:start] + "\n" + render_support_table(cases) + readme[end:]


if __name__ == "__main__":  # python -m tests.support.import_cases: rewrite the README's table
    readme = Path(__file__).resolve().parents[2] / "README.md"
    readme.write_text(readme_with_table(readme.read_text(), all_cases()))
    print(f"{readme}: support table of {len(all_cases())} cases written")
