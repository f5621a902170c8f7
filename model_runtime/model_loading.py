"""Find the model named by the settings, check its integrity, and start its session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model_runtime.inference import OnnxPredictor, Predictor
from model_runtime.settings import Settings
from model_store.base import VerifiedModel
from model_store.graph_check import check_graph, signature_of
from model_store.manifest import Manifest
from model_store.stores import open_model

PredictorFactory = Callable[[VerifiedModel, Settings], Predictor]


@dataclass(frozen=True)
class LoadedModel:
    manifest: Manifest
    predictor: Predictor
    source: str


def onnx_predictor(opened: VerifiedModel, settings: Settings) -> Predictor:
    """The session, once its inputs and outputs are what the manifest says (else it raises,
    and the service answers 503 with the mismatch in the log, rather than 500 per request)."""
    manifest = opened.manifest
    predictor = OnnxPredictor(opened.model_bytes, input_name=manifest.input_name,
                              output_name=manifest.output.name, threads=settings.threads)
    check_graph(manifest, signature_of(predictor.session))
    return predictor


def open_from_source(name: str, settings: Settings) -> VerifiedModel:
    """Open ``name`` at the configured version from the configured source, sha256-checked."""
    return open_model(settings.model_source, name, settings.model_version,
                      cache_root=Path(settings.model_cache))


def load_model(name: str, settings: Settings,
               predictor_factory: PredictorFactory = onnx_predictor) -> LoadedModel:
    opened = open_from_source(name, settings)
    return LoadedModel(manifest=opened.manifest,
                       predictor=predictor_factory(opened, settings),
                       source=settings.model_source)
