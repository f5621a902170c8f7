"""Columns that are not features: those that pass through to each output line (an id to
join the answers back, as SageMaker's batch transform joins its output to its input), and
the one that holds the known answer to score against.

By default every column that is not a feature passes through; ``keep`` names the ones to
keep instead. The target column always passes through, so the score can be checked from
the output alone. A kept or target column the file lacks refuses the file: a CSV before any
row is scored (by its header); JSON Lines, having no header, when no line has the key (a
line may lack it: that row's value is missing), at the end, with nothing written. Values
pass through as the file has them: a CSV cell as its text (``007`` stays ``007``, ``NA``
stays ``NA``), an empty cell as ``null``; a JSON value as it is, a key a line lacks as
``null``. The score leaves out a row whose target cell pandas reads as missing (missing.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lambda_kit.errors import UnprocessableInstance
from model_runtime.batch.missing import is_missing_cell

_SHOWN = 8
KEEP_HOW = "--keep, or FEATHERSERVE_BATCH_KEEP on a stage"
TARGET_HOW = "--target, or FEATHERSERVE_BATCH_TARGET on a stage"


@dataclass(frozen=True)
class ColumnChoice:
    keep: tuple[str, ...] | None = None  # None: every column that is not a feature
    target: str | None = None

    @classmethod
    def of(cls, keep: str = "", target: str = "") -> ColumnChoice:
        """From the settings' text: ``keep`` is comma-separated column names ("" = all)."""
        names = tuple(dict.fromkeys(n.strip() for n in keep.split(",") if n.strip()))
        return cls(names or None, target.strip() or None)

    @property
    def named(self) -> bool:
        """Some column must be present (an explicit keep, or a target)."""
        return self.keep is not None or self.target is not None

    def kept_names(self, others: Sequence[str]) -> list[str]:
        """The columns that pass through, given the file's non-feature columns in order."""
        kept = list(others if self.keep is None else self.keep)
        if self.target is not None and self.target not in kept:
            kept.append(self.target)
        return kept

    def check_present(self, present: Sequence[str], *, what: str = "column") -> None:
        """Refuse the file when a named column is not among ``present``."""
        have = set(present)
        absent_keep = [n for n in self.keep or () if n not in have]
        its = f"its {what}s: {_quote(list(present))}" if present else f"it has no {what}s"
        if absent_keep:
            raise UnprocessableInstance(
                f"the file has no {what}(s) {_quote(absent_keep)} to keep ({KEEP_HOW}); {its}",
                code="missing_column")
        if self.target is not None and self.target not in have:
            raise UnprocessableInstance(
                f"the file has no {what} {self.target!r} to score against ({TARGET_HOW}); "
                f"{its}", code="missing_column")


@dataclass(frozen=True)
class CellPicker:
    """A CSV row's kept cells and target cell, by the header's positions."""

    kept: tuple[tuple[int, str], ...] = ()
    target: int | None = None

    def keep_of(self, cells: list[str]) -> dict[str, str | None] | None:
        if not self.kept:
            return None
        return {name: cells[i] if cells[i] else None for i, name in self.kept}

    def target_of(self, cells: list[str]) -> str | None:
        """The target cell; a missing one (``NA``, ... : missing.py) is null, as training
        leaves out a row whose label pandas reads as missing."""
        if self.target is None or is_missing_cell(cells[self.target]):
            return None
        return cells[self.target]


def csv_picker(names: list[str], features: Sequence[str], choice: ColumnChoice) -> CellPicker:
    """Where the kept and target columns are in a header (``names``, already stripped)."""
    feature_set = set(features)
    choice.check_present(names)
    kept = choice.kept_names([n for n in names if n not in feature_set])
    repeated = sorted({n for n in kept if names.count(n) > 1})
    if repeated:
        hint = "" if choice.keep is not None else (
            f"; name the columns to pass through with {KEEP_HOW}")
        raise UnprocessableInstance(f"the header names {_quote(repeated)} more than once{hint}",
                                    code="invalid_header")
    position = {name: i for i, name in enumerate(names)}
    return CellPicker(tuple((position[n], n) for n in kept),
                      None if choice.target is None else position[choice.target])


class ObjectSplitter:
    """A JSON Lines object → (the instance, its kept values, its target)."""

    def __init__(self, instance_keys: frozenset[str], choice: ColumnChoice) -> None:
        self.instance_keys = instance_keys
        self.choice = choice
        self._named = [*(choice.keep or ()), *([choice.target] if choice.target else [])]
        self._unseen = set(self._named)
        self._first_keys: list[str] = []

    def split(self, value: Any) -> tuple[Any, dict[str, Any] | None, Any]:
        if not isinstance(value, dict):  # a list in manifest order, or not an instance
            return value, None, None
        if self._unseen:
            self._first_keys = self._first_keys or list(value)
            self._unseen.difference_update(value)
        choice, keys = self.choice, self.instance_keys
        others = [k for k in value if k not in keys]
        instance = value if not others else {k: v for k, v in value.items() if k in keys}
        kept = choice.kept_names(others)
        keep = {k: value.get(k) for k in kept} if kept else None
        target = None if choice.target is None else value.get(choice.target)
        return instance, keep, target

    def finish(self) -> None:
        """Refuse the file when a named key was on none of its lines."""
        if self._unseen:
            seen = [n for n in self._named if n not in self._unseen]
            self.choice.check_present(list(dict.fromkeys(self._first_keys + seen)),
                                      what="key")


def _quote(names: list[str]) -> str:
    shown = ", ".join(repr(n[:80]) for n in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


EVERY_OTHER_COLUMN = ColumnChoice()  # the default: every non-feature column, no target
