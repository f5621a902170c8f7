"""Errors raised while building layers and checking their sizes.

    ModelStoreError                      (model_store.exceptions)
    └── LayerError
        ├── LayerBuildError              pip, compileall or the import check failed
        ├── TargetInterpreterError       an interpreter that was asked for is not CPython 3.12
        └── LayerLimitError              a function or layer exceeds a Lambda limit

Integrity failures while packaging a model are the store's own ``IntegrityError``.
"""

from __future__ import annotations

from model_store.exceptions import ModelStoreError


class LayerError(ModelStoreError):
    """Base class for every error raised while packaging layers."""


class LayerBuildError(LayerError):
    """A build step failed (pip, bytecode compilation, the import check, reading a tree)."""


class TargetInterpreterError(LayerError):
    """An interpreter named explicitly (option or environment) is not the target Python."""


class LayerLimitError(LayerError):
    """One or more Lambda size or count limits are exceeded; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)
