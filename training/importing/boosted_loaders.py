"""XGBoost, LightGBM and CatBoost models, from their own files or pickled (a scikit-learn
wrapper or a Booster): what the model is, from its objective."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training.errors import UnsupportedModelError
from training.importing.loaders import ImportedModel, Kind

_LIGHTGBM_CLASSIFIERS = ("binary", "multiclass", "multiclassova")
_LIGHTGBM_REGRESSORS = ("regression", "huber", "fair", "l1", "l2", "quantile", "mape",
                        "poisson", "gamma", "tweedie", "cross_entropy", "xentropy")
_CATBOOST_CLASSIFIERS = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")
_TITLES = {"xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}


def pickled_boosted_model(model: Any, path: Path) -> ImportedModel:
    library = type(model).__module__.split(".")[0]
    if library == "xgboost":
        return xgboost_model(model, path)
    if library == "lightgbm":
        if hasattr(model, "booster_") or hasattr(model, "dump_model"):
            return lightgbm_model(model, path)
    elif hasattr(model, "get_all_params"):
        return catboost_model(model, path)
    raise UnsupportedModelError(f"{path}: holds a {type(model).__name__} from {library}, "
                                "not a fitted model; save the fitted model or its Booster")


def xgboost_model(model: Any, path: Path) -> ImportedModel:
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    return _by_objective("xgboost", model, path, objective,
                         classifier=objective.startswith(("binary:", "multi:")),
                         regressor=objective.startswith(("reg:", "count:")),
                         supported="binary:*, multi:*, reg:*, count:poisson")


def lightgbm_model(model: Any, path: Path) -> ImportedModel:
    booster = model.booster_ if hasattr(model, "booster_") else model
    objective = str(booster.dump_model(num_iteration=1).get("objective", "")).split()[0]
    return _by_objective("lightgbm", model, path, objective,
                         classifier=objective in _LIGHTGBM_CLASSIFIERS,
                         regressor=objective.startswith(_LIGHTGBM_REGRESSORS),
                         supported="binary, multiclass, regression and variants")


def catboost_model(model: Any, path: Path) -> ImportedModel:
    loss = str(model.get_all_params().get("loss_function", "")).split(":")[0]
    return _by_objective("catboost", model, path, loss,
                         classifier=loss in _CATBOOST_CLASSIFIERS,
                         regressor=True)  # every other CatBoost loss is a regression


def _by_objective(kind: Kind, model: Any, path: Path, objective: str, *, classifier: bool,
                  regressor: bool, supported: str = "") -> ImportedModel:
    """The model as a classifier or a regressor, as its objective says; an objective that
    is neither is refused, naming what is ``supported``."""
    title = _TITLES[kind]
    if not (classifier or regressor):
        raise UnsupportedModelError(f"{path}: {title} objective {objective!r} is not "
                                    f"supported ({supported})")
    return ImportedModel(kind, model, regression=not classifier,
                         name=f"{title} {type(model).__name__} ({objective})")


def load_catboost(path: Path) -> ImportedModel:
    import catboost

    model = catboost.CatBoost()
    try:
        model.load_model(str(path))
    except catboost.CatBoostError as exc:
        raise UnsupportedModelError(f"{path}: not a CatBoost model ({exc})") from exc
    return catboost_model(model, path)
