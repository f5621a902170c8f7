"""Boosted trees as their docs teach them: XGBoost and LightGBM with native categorical
columns (pandas ``category`` dtype) and missing values, from the scikit-learn wrappers
(saved with joblib) and from Booster files; CatBoost with its own categorical handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from tests.support.import_cases import NUMBERS, TEXTS, ImportCase

FAMILY = "boosted trees"
ROUNDS = 40
# How the support table says the categories are served (the same for both libraries).
SERVED = ("categorical splits as set membership in the graph; missing → the node's "
          "default direction")


def _codes(target: pd.Series) -> np.ndarray:
    """Class labels as the 0..K-1 codes XGBoost wants (sorted, as LabelEncoder numbers
    them)."""
    return np.asarray(np.searchsorted(np.array(sorted(set(target))), target.to_numpy()))


# The wrappers' settings the cases share (the classifier adds to XGBoost's).
XGB_OPTIONS: dict[str, Any] = dict(n_estimators=ROUNDS, max_depth=4, enable_categorical=True,
                                   tree_method="hist")
LGBM_OPTIONS: dict[str, Any] = dict(n_estimators=ROUNDS, num_leaves=15, min_child_samples=5,
                                    min_data_per_group=5, cat_smooth=1, verbose=-1)


def _fitted_joblib(model: Any, x: pd.DataFrame, y: Any, folder: Path) -> Path:
    """Fit ``model`` and save it with joblib, as the wrappers' users do."""
    model.fit(x, y)
    joblib.dump(model, folder / "model.joblib")
    return folder / "model.joblib"


def xgb_classifier(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import xgboost

    return _fitted_joblib(xgboost.XGBClassifier(**XGB_OPTIONS, max_cat_to_onehot=1), x,
                          _codes(y), folder)


def xgb_regressor(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import xgboost

    return _fitted_joblib(xgboost.XGBRegressor(**XGB_OPTIONS), x, y, folder)


def xgb_booster_json(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import xgboost

    train = xgboost.DMatrix(x, label=_codes(y), enable_categorical=True)
    booster = xgboost.train({"objective": "multi:softprob", "num_class": len(set(y)),
                             "tree_method": "hist", "max_depth": 4}, train, ROUNDS)
    booster.save_model(str(folder / "model.json"))
    return folder / "model.json"


def xgb_booster_ubj(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import xgboost

    train = xgboost.DMatrix(x, label=y, enable_categorical=True)
    booster = xgboost.train({"objective": "reg:squarederror", "tree_method": "hist",
                             "max_depth": 5, "max_cat_to_onehot": 4}, train, ROUNDS)
    booster.save_model(str(folder / "model.ubj"))
    return folder / "model.ubj"


def lgbm_classifier(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import lightgbm

    return _fitted_joblib(lightgbm.LGBMClassifier(**LGBM_OPTIONS), x, y, folder)


def lgbm_regressor(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import lightgbm

    return _fitted_joblib(lightgbm.LGBMRegressor(**LGBM_OPTIONS), x, y, folder)


def lgbm_booster_txt(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import lightgbm

    train = lightgbm.Dataset(x, label=_codes(y), categorical_feature=list(TEXTS))
    booster = lightgbm.train({"objective": "multiclass", "num_class": len(set(y)),
                              "num_leaves": 15, "min_data_in_leaf": 5,
                              "min_data_per_group": 5, "cat_smooth": 1, "verbose": -1},
                             train, ROUNDS)
    booster.save_model(str(folder / "model.txt"))
    return folder / "model.txt"


def lgbm_booster_txt_regression(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import lightgbm

    train = lightgbm.Dataset(x, label=y)  # category columns are categorical by default
    booster = lightgbm.train({"objective": "regression", "num_leaves": 15,
                              "min_data_in_leaf": 5, "min_data_per_group": 5,
                              "verbose": -1}, train, ROUNDS)
    booster.save_model(str(folder / "model.txt"))
    return folder / "model.txt"


def _as_category(x: pd.DataFrame) -> pd.DataFrame:
    """Nullable ``string`` columns as ``category``, which is what both libraries take (the
    ``Int64`` and ``boolean`` columns stay as they are)."""
    x = x.copy()
    for column in TEXTS:
        x[column] = x[column].astype("category")
    return x


def xgb_classifier_nullable(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    return xgb_classifier(_as_category(x), y, folder)


def lgbm_regressor_nullable(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import lightgbm

    model = lightgbm.LGBMRegressor(**LGBM_OPTIONS)
    model.fit(_as_category(x), y)
    model.booster_.save_model(str(folder / "model.txt"))
    return folder / "model.txt"


def _one_hot_pipeline(model: object) -> object:
    """The docs' preprocessing in front of a boosted model: numbers passed through (NaN and
    all), text imputed with a word and one-hot encoded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    text = Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                     ("onehot", OneHotEncoder(handle_unknown="ignore"))])
    return Pipeline([("prep", ColumnTransformer([("numbers", "passthrough", list(NUMBERS)),
                                                 ("text", text, list(TEXTS))])),
                     ("model", model)])


def lgbm_pipeline(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import lightgbm

    model = lightgbm.LGBMClassifier(n_estimators=ROUNDS, num_leaves=15, verbose=-1)
    return _fitted_joblib(_one_hot_pipeline(model), x, y, folder)


def xgb_pipeline_regressor(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import xgboost

    model = xgboost.XGBRegressor(n_estimators=ROUNDS, max_depth=4)
    return _fitted_joblib(_one_hot_pipeline(model), x, y, folder)


def _filled(x: pd.DataFrame) -> pd.DataFrame:
    """CatBoost refuses missing categories: users fill them with a word first."""
    x = x.copy()
    for column in TEXTS:
        x[column] = x[column].astype(object).where(x[column].notna(), "missing")
    return x


def _catboost_options(folder: Path) -> dict[str, Any]:
    """The settings the CatBoost cases share; its training files stay under ``folder``."""
    return dict(iterations=ROUNDS, depth=4, cat_features=list(TEXTS), verbose=0,
                thread_count=1, train_dir=str(folder / "catboost_info"))


def catboost_classifier(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import catboost

    model = catboost.CatBoostClassifier(**_catboost_options(folder), one_hot_max_size=255)
    model.fit(_filled(x), y)
    model.save_model(str(folder / "model.cbm"))
    return folder / "model.cbm"


def catboost_classifier_ctr(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import catboost

    return _fitted_joblib(catboost.CatBoostClassifier(**_catboost_options(folder)),
                          _filled(x), y, folder)


def catboost_regressor(x: pd.DataFrame, y: pd.Series, folder: Path) -> Path:
    import catboost

    return _fitted_joblib(catboost.CatBoostRegressor(**_catboost_options(folder)),
                          _filled(x), y, folder)


CATBOOST = ("one-hot splits as set membership (the category found by CatBoost's hash); "
            "a missing category is served as the filler the model knows ('missing', 'nan', "
            "...)")
CTR = ("target statistics (CTRs, over combinations of columns too) as 0/1 tables the graph "
       "indexes by the row's category codes; a missing category is served as the filler the "
       "model knows; refused above 1,000,000 combinations (lower max_ctr_complexity)")

CASES: list[ImportCase] = [
    ImportCase(FAMILY, "XGBClassifier(enable_categorical=True), joblib", "classification",
               xgb_classifier, dtypes="category",
               note=f"{SERVED}; a category XGBoost never saw is served as missing (XGBoost "
                    "itself refuses it)"),
    ImportCase(FAMILY, "XGBRegressor(enable_categorical=True), joblib", "regression",
               xgb_regressor, dtypes="category", note=SERVED),
    ImportCase(FAMILY, "XGBoost Booster (xgboost.train), save_model .json", "classification",
               xgb_booster_json, dtypes="category",
               note=f"{SERVED}; classes are the data file's labels, sorted"),
    ImportCase(FAMILY, "XGBoost Booster, save_model .ubj (one-hot splits)", "regression",
               xgb_booster_ubj, dtypes="category", note=SERVED),
    ImportCase(FAMILY, "LGBMClassifier on category columns, joblib", "classification",
               lgbm_classifier, dtypes="category", served=True,
               note=f"{SERVED}; unseen → missing, as LightGBM does"),
    ImportCase(FAMILY, "LGBMRegressor on category columns, joblib", "regression",
               lgbm_regressor, dtypes="category", served=True, note=SERVED),
    ImportCase(FAMILY, "LightGBM Booster (lightgbm.train), save_model .txt", "classification",
               lgbm_booster_txt, dtypes="category",
               note=f"{SERVED}; classes are the data file's labels, sorted"),
    ImportCase(FAMILY, "LightGBM Booster regression, save_model .txt", "regression",
               lgbm_booster_txt_regression, dtypes="category", note=SERVED),
    ImportCase(FAMILY, "XGBClassifier on nullable Int64/boolean columns, joblib",
               "classification", xgb_classifier_nullable, dtypes="nullable",
               note=f"{SERVED}; a boolean column arrives as true/false text, served as 1/0"),
    ImportCase(FAMILY, "LGBMRegressor on nullable Int64/boolean columns, Booster .txt",
               "regression", lgbm_regressor_nullable, dtypes="nullable",
               note=f"{SERVED}; a boolean column arrives as true/false text, served as 1/0"),
    ImportCase(FAMILY, "Pipeline(ColumnTransformer → LGBMClassifier), joblib",
               "classification", lgbm_pipeline, served=True,
               note="onnxmltools' LightGBM converter registered with skl2onnx by the kit"),
    ImportCase(FAMILY, "Pipeline(ColumnTransformer → XGBRegressor), joblib", "regression",
               xgb_pipeline_regressor,
               note="onnxmltools' XGBoost converter registered with skl2onnx by the kit"),
    ImportCase(FAMILY, "CatBoostClassifier(one_hot_max_size=255), save_model .cbm",
               "classification", catboost_classifier, note=CATBOOST),
    ImportCase(FAMILY, "CatBoostClassifier (default: CTRs), joblib", "classification",
               catboost_classifier_ctr, note=CTR),
    ImportCase(FAMILY, "CatBoostRegressor (default: CTRs), joblib", "regression",
               catboost_regressor, note=CTR),
]
