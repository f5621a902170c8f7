"""Open a model trained elsewhere, by file type, and say what it is.

    .joblib .pkl .pickle   a scikit-learn estimator or Pipeline (joblib or pickle)
    .json .ubj             an XGBoost model (``save_model``)
    .txt                   a LightGBM model (``Booster.save_model``)
    .cbm                   a CatBoost model (``save_model``)
    .onnx                  an ONNX graph, served as it is

A pickled XGBoost, LightGBM or CatBoost scikit-learn wrapper (or Booster) is that library's
model. Unpickling runs code from the file: only import files you trust (the CLI says so too).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from training.errors import UnsupportedModelError

Kind = Literal["sklearn", "xgboost", "lightgbm", "catboost", "onnx"]
SUFFIXES: dict[str, Kind] = {".joblib": "sklearn", ".pkl": "sklearn", ".pickle": "sklearn",
                             ".json": "xgboost", ".ubj": "xgboost", ".txt": "lightgbm",
                             ".cbm": "catboost", ".onnx": "onnx"}
BOOSTED_LIBRARIES = ("xgboost", "lightgbm", "catboost")


@dataclass(frozen=True)
class ImportedModel:
    kind: Kind
    model: Any                # the estimator, booster, or the ONNX bytes
    regression: bool | None   # None: decided from the data (ONNX)
    name: str                 # what the report and card call it

    @property
    def is_classifier(self) -> bool:
        return self.regression is False


def load_model_file(path: Path) -> ImportedModel:
    path = Path(path)
    if not path.is_file():
        raise UnsupportedModelError(f"{path}: no such file")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedModelError(
            f"{path}: unknown model file type {path.suffix!r}; import "
            f"{', '.join(SUFFIXES)} files (scikit-learn, XGBoost, LightGBM, CatBoost, ONNX)")
    return {"sklearn": _sklearn, "xgboost": _xgboost, "lightgbm": _lightgbm,
            "catboost": _catboost, "onnx": _onnx}[kind](path)


def _sklearn(path: Path) -> ImportedModel:
    import joblib
    from sklearn.base import is_classifier, is_regressor

    try:
        model = joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError) as exc:
        raise UnsupportedModelError(f"{path}: not a joblib/pickle file ({exc})") from exc
    if isinstance(model, dict):  # {"model": estimator, ...} is a common way to save one
        model = next((v for k, v in model.items() if k in ("model", "pipeline", "estimator")),
                     model)
    if type(model).__module__.split(".")[0] in BOOSTED_LIBRARIES:
        from training.importing.boosted_loaders import pickled_boosted_model

        return pickled_boosted_model(model, path)
    if not hasattr(model, "predict"):
        raise UnsupportedModelError(f"{path}: holds a {type(model).__name__}, not a "
                                    "scikit-learn estimator or Pipeline")
    if not (is_classifier(model) or is_regressor(model)):
        raise UnsupportedModelError(f"{path}: {type(model).__name__} is neither a classifier "
                                    "nor a regressor")
    return ImportedModel("sklearn", model, regression=bool(is_regressor(model)),
                         name=describe_estimator(model))


def describe_estimator(model: Any) -> str:
    steps = getattr(model, "steps", None)
    if steps:
        return "Pipeline(" + " → ".join(describe_estimator(s) for _, s in steps) + ")"
    parts = getattr(model, "transformers", None)
    if parts:
        return "ColumnTransformer(" + ", ".join(describe_estimator(t) for _, t, _ in parts
                                                if not isinstance(t, str)) + ")"
    return type(model).__name__


def _xgboost(path: Path) -> ImportedModel:
    import xgboost

    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except xgboost.core.XGBoostError as exc:
        raise UnsupportedModelError(f"{path}: not an XGBoost model ({exc})") from exc
    from training.importing.boosted_loaders import xgboost_model

    return xgboost_model(booster, path)


def _lightgbm(path: Path) -> ImportedModel:
    import lightgbm

    try:
        booster = lightgbm.Booster(model_file=str(path))
    except lightgbm.basic.LightGBMError as exc:
        raise UnsupportedModelError(f"{path}: not a LightGBM model ({exc})") from exc
    from training.importing.boosted_loaders import lightgbm_model

    return lightgbm_model(booster, path)


def _catboost(path: Path) -> ImportedModel:
    from training.importing.boosted_loaders import load_catboost

    return load_catboost(path)


def _onnx(path: Path) -> ImportedModel:
    return ImportedModel("onnx", path.read_bytes(), regression=None, name=f"ONNX {path.name}")
