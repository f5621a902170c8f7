"""A table split once, the same way for training, evaluation and the shipped-model test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split

from training.errors import DataError
from training.tabular.config import TabularConfig
from training.tabular.table import Table, Task, class_labels, read_table


@dataclass(frozen=True)
class TabularSplit:
    name: str
    source: str
    task: Task
    table: Table
    labels: tuple[str, ...]          # () for regression
    x_train: pd.DataFrame            # raw feature values, as the client will send them
    x_test: pd.DataFrame
    y_train: npt.NDArray[np.generic]  # int64 label indices, or float64 values
    y_test: npt.NDArray[np.generic]
    description: str

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.table.feature_names


def split_table(table: Table, task: Task, config: TabularConfig) -> TabularSplit:
    """Stratified for classification; the split seed is fixed so every build sees it alike."""
    stratify = None
    labels: tuple[str, ...] = ()
    y: npt.NDArray[np.generic]
    if task == "classification":
        labels, y = class_labels(table.target, table.label_order)
        counts = np.bincount(y, minlength=len(labels))
        if len(labels) < 2:
            raise DataError(f"the target {table.target_name!r} has one value only; a "
                            "classifier needs two or more")
        if counts.min() < 2:
            rare = [labels[i] for i in np.flatnonzero(counts < 2)]
            raise DataError(f"labels {rare} have fewer than 2 rows: too few to train and test "
                            "on; merge or drop them")
        stratify = y
    else:
        if not pd.api.types.is_numeric_dtype(table.target):
            raise DataError(f"--task regression needs numbers in {table.target_name!r}")
        y = table.target.to_numpy(dtype=np.float64)
    rows = np.arange(len(y))
    train, test = train_test_split(rows, test_size=config.test_fraction, stratify=stratify,
                                   random_state=config.split_seed)
    how = "stratified " if stratify is not None else ""
    return TabularSplit(
        name=table.name, source=table.source, task=task, table=table, labels=labels,
        x_train=table.frame.iloc[train].reset_index(drop=True),
        x_test=table.frame.iloc[test].reset_index(drop=True),
        y_train=y[train], y_test=y[test],
        description=(f"{how}{config.test_fraction:.0%} held-out test split of {table.source} "
                     f"(random_state={config.split_seed}): {len(train)} train, {len(test)} "
                     "test rows"))


def load_split(data: str, target: str, task: Task | None = None,
               config: TabularConfig | None = None) -> TabularSplit:
    """Read ``data`` and split it (the task inferred from the target when not given)."""
    from training.tabular.table import infer_task

    table = read_table(data, target)
    return split_table(table, task or infer_task(table.target)[0], config or TabularConfig())
