"""Tabular datasets, split once the same way for training, evaluation and the shipped-model test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from training.tabular_config import TabularConfig

FloatArray = npt.NDArray[np.float32]
LabelArray = npt.NDArray[np.int64]

# name → (loader returning a sklearn Bunch, how lineage names it)
DATASETS: dict[str, tuple[Callable[[], Any], str]] = {
    "breast_cancer": (load_breast_cancer, "sklearn.datasets.load_breast_cancer"),
}


@dataclass(frozen=True)
class TabularSplit:
    """A dataset split once, the same way for training, evaluation and the shipped-model test."""

    name: str
    source: str
    feature_names: tuple[str, ...]
    labels: tuple[str, ...]
    x_train: FloatArray  # float32, as the handler feeds the model
    y_train: LabelArray
    x_test: FloatArray
    y_test: LabelArray
    train_min: npt.NDArray[np.float64]  # per feature, from the original float64 values
    train_max: npt.NDArray[np.float64]
    description: str


def load_split(dataset: str, config: TabularConfig | None = None) -> TabularSplit:
    """The bundled dataset (no download), split stratified with the fixed split seed."""
    config = config or TabularConfig()
    if dataset not in DATASETS:
        raise ValueError(f"unknown tabular dataset {dataset!r}; known: {', '.join(DATASETS)}")
    loader, source = DATASETS[dataset]
    bunch = loader()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=config.test_fraction, stratify=y, random_state=config.split_seed)
    return TabularSplit(
        name=dataset, source=source,
        feature_names=tuple(str(n) for n in bunch.feature_names),
        labels=tuple(str(n) for n in bunch.target_names),
        x_train=x_train.astype(np.float32), y_train=y_train,
        x_test=x_test.astype(np.float32), y_test=y_test,
        train_min=x_train.min(axis=0), train_max=x_train.max(axis=0),
        description=(f"stratified {config.test_fraction:.0%} held-out test split of {source}() "
                     f"(random_state={config.split_seed}): {len(y_train)} train, "
                     f"{len(y_test)} test rows"))
