"""scikit-learn pipelines for the import matrix, as scikit-learn's documentation teaches them:
a ColumnTransformer imputing and one-hot encoding the text, imputing and scaling the
numbers, in front of each estimator; saved with joblib."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from tests.support.import_cases import NUMBERS, TEXTS, ImportCase

FAMILY = "scikit-learn"
Train = Callable[[pd.DataFrame, pd.Series, Path], Path]


def docs_preprocessor(*, text_imputer: Any = None, encoder: Any = None,
                      number_steps: tuple[Any, ...] | None = None,
                      by_name: bool = False, remainder: str = "drop",
                      text_steps: tuple[Any, ...] | None = None) -> ColumnTransformer:
    """The scikit-learn docs' mixed-type preprocessing (columns chosen by dtype)."""
    numbers = make_pipeline(*(number_steps or (SimpleImputer(strategy="median"),
                                               StandardScaler())))
    text = make_pipeline(*(text_steps or (
        text_imputer or SimpleImputer(strategy="most_frequent"),
        encoder or OneHotEncoder(handle_unknown="ignore"))))
    if by_name:
        return ColumnTransformer([("num", numbers, [c for c in NUMBERS if c != "width"]),
                                  ("cat", text, list(TEXTS))], remainder=remainder)
    return ColumnTransformer([("num", numbers, make_column_selector(dtype_include="number")),
                              ("cat", text, make_column_selector(dtype_exclude="number"))],
                             remainder=remainder)


def pipeline(estimator: Any, **preprocessing: Any) -> Train:
    def train(features: pd.DataFrame, target: pd.Series, folder: Path) -> Path:
        model = clone(Pipeline([("preprocessor", docs_preprocessor(**preprocessing)),
                                ("model", estimator)])).fit(features, target)
        path = folder / "model.joblib"
        joblib.dump(model, path)
        return path

    return train


def dense() -> OneHotEncoder:
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def na_imputer(**strategy: Any) -> SimpleImputer:
    return SimpleImputer(missing_values=pd.NA, **(strategy or {"strategy": "most_frequent"}))


def constant() -> SimpleImputer:
    return SimpleImputer(strategy="constant", fill_value="missing")


def hgb_native(estimator: Any) -> Train:
    """HistGradientBoosting's own NaN handling for numbers, its categorical_features for the
    ordinal-encoded text (the docs' "categorical feature support" example)."""
    def train(features: pd.DataFrame, target: pd.Series, folder: Path) -> Path:
        encode = ColumnTransformer(
            [("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                   OrdinalEncoder(handle_unknown="use_encoded_value",
                                                  unknown_value=np.nan)), list(TEXTS))],
            remainder="passthrough", verbose_feature_names_out=False)
        model = make_pipeline(encode, clone(estimator).set_params(
            categorical_features=list(range(len(TEXTS))))).fit(features, target)
        path = folder / "model.joblib"
        joblib.dump(model, path)
        return path

    return train


def hgb_alone(estimator: Any) -> Train:
    """HistGradientBoosting straight on the DataFrame, its category columns read as such."""
    def train(features: pd.DataFrame, target: pd.Series, folder: Path) -> Path:
        model = clone(estimator).set_params(categorical_features="from_dtype").fit(
            features, target)
        path = folder / "model.joblib"
        joblib.dump(model, path)
        return path

    return train


def c(name: str, task: str, train: Train, dtypes: str = "default", note: str = "",
      served: bool = False) -> ImportCase:
    return ImportCase(FAMILY, name, task, train, dtypes, note, served)  # type: ignore[arg-type]


TEXT_SUPPLIED = "imputer on text supplied by the kit"

CASES: list[ImportCase] = [
    c("LogisticRegression", "classification", pipeline(LogisticRegression(max_iter=500)),
      note=f"docs pipeline, columns by dtype; {TEXT_SUPPLIED}", served=True),
    c("LogisticRegression", "classification", pipeline(LogisticRegression(max_iter=500)),
      "object", note="text missing as None"),
    c("LogisticRegression", "classification", pipeline(LogisticRegression(max_iter=500),
                                                        text_imputer=na_imputer()),
      "nullable", note="Int64, string and boolean columns; SimpleImputer(missing_values=pd.NA)"
      " on text", served=True),
    c("RandomForestClassifier", "classification",
      pipeline(RandomForestClassifier(n_estimators=30, random_state=0)),
      "category", note="text as pandas category", served=True),
    c("ExtraTreesClassifier", "classification",
      pipeline(ExtraTreesClassifier(n_estimators=30, random_state=0), text_imputer=constant()),
      note='SimpleImputer(strategy="constant", fill_value="missing") on text'),
    c("LogisticRegression + SimpleImputer(missing_values=None)", "classification",
      pipeline(LogisticRegression(max_iter=500), text_imputer=SimpleImputer(
          missing_values=None, strategy="most_frequent")), "object",
      note="the imputer told the marker pandas used (None)"),
    c("DecisionTreeClassifier", "classification",
      pipeline(DecisionTreeClassifier(max_depth=6, random_state=0), text_imputer=constant()),
      "object", note="constant fill on text, None missing"),
    c("GradientBoostingClassifier", "classification",
      pipeline(GradientBoostingClassifier(n_estimators=30, random_state=0)),
      note="three classes"),
    c("HistGradientBoostingClassifier", "classification",
      pipeline(HistGradientBoostingClassifier(max_iter=30, random_state=0), encoder=dense()),
      note="dense one-hot"),
    c("SVC(probability=True)", "classification",
      pipeline(SVC(probability=True, random_state=0))),
    c("KNeighborsClassifier", "classification", pipeline(KNeighborsClassifier())),
    c("MLPClassifier", "classification",
      pipeline(MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0))),
    c("CalibratedClassifierCV(LogisticRegression)", "classification",
      pipeline(CalibratedClassifierCV(LogisticRegression(max_iter=500), cv=3))),
    c("VotingClassifier(soft)", "classification", pipeline(VotingClassifier(
        [("lr", LogisticRegression(max_iter=500)),
         ("rf", RandomForestClassifier(n_estimators=20, random_state=0))], voting="soft"))),
    c("LogisticRegression + OneHotEncoder(infrequent_if_exist)", "classification",
      pipeline(LogisticRegression(max_iter=500), encoder=OneHotEncoder(
          handle_unknown="infrequent_if_exist", min_frequency=40)),
      note="rare and unknown categories in the infrequent column (min_frequency)"),
    c("KNeighborsClassifier + OneHotEncoder(max_categories)", "classification",
      pipeline(KNeighborsClassifier(), text_steps=(OneHotEncoder(
          handle_unknown="infrequent_if_exist", max_categories=3, sparse_output=False),)),
      "object", note="no text imputer: missing text (None) learned as a category"),
    c("DecisionTreeRegressor + OrdinalEncoder", "regression",
      pipeline(DecisionTreeRegressor(max_depth=6, random_state=0), encoder=OrdinalEncoder(
          handle_unknown="use_encoded_value", unknown_value=-1)),
      note='OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)'),
    c("LinearRegression", "regression", pipeline(LinearRegression(), by_name=True),
      note="columns by name, remainder drop", served=True),
    c("Ridge", "regression", pipeline(Ridge()), "category"),
    c("Lasso", "regression", pipeline(Lasso(alpha=0.05), number_steps=(
        SimpleImputer(strategy="mean"), MinMaxScaler()), text_imputer=constant()),
      "object", note="mean imputer, MinMaxScaler"),
    c("SVR", "regression", pipeline(SVR(), number_steps=(
        SimpleImputer(strategy="most_frequent"), RobustScaler()))
      , note="most_frequent imputer on numbers, RobustScaler"),
    c("KNeighborsRegressor", "regression", pipeline(KNeighborsRegressor(), number_steps=(
        SimpleImputer(strategy="constant", fill_value=0.0), StandardScaler()))),
    c("RandomForestRegressor", "regression",
      pipeline(RandomForestRegressor(n_estimators=30, random_state=0),
               text_imputer=na_imputer()), "nullable", note="pd.NA where missing"),
    c("GradientBoostingRegressor", "regression",
      pipeline(GradientBoostingRegressor(n_estimators=30, random_state=0))),
    c("HistGradientBoostingClassifier (own NaN handling)", "classification",
      pipeline(HistGradientBoostingClassifier(max_iter=30, random_state=0), encoder=dense(),
               number_steps=(StandardScaler(),)),
      note="numbers not imputed: NaN reaches the model"),
    c("HistGradientBoostingClassifier(categorical_features) after OrdinalEncoder",
      "classification", hgb_native(HistGradientBoostingClassifier(max_iter=30,
                                                                 random_state=0)),
      served=True, note="the docs' categorical example: ordinal-encoded text (unknown → "
      "NaN), numbers passed through with their NaN; categorical splits rewritten as "
      "threshold splits"),
    c('HistGradientBoostingRegressor(categorical_features="from_dtype")', "regression",
      hgb_alone(HistGradientBoostingRegressor(max_iter=30, random_state=0)), "category",
      note="no pipeline: the model on the DataFrame's category columns (its own encoder)"),
    c("VotingRegressor", "regression", pipeline(VotingRegressor(
        [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=5, random_state=0))]))),
    c("HistGradientBoostingRegressor", "regression",
      pipeline(HistGradientBoostingRegressor(max_iter=30, random_state=0), encoder=dense(),
               by_name=True, remainder="passthrough"),
      note="columns by name; remainder passthrough (its NaN reaches the model)"),
]
