"""Model layers: one zip per model that unpacks to ``/opt/models/<name>/<version>/`` on Lambda.

A model layer holds exactly one version (the one a ref resolves to) with its manifest, and
the aliases that point at that version, so the handler opens it with the same ``LocalStore``
it uses anywhere else. Every model is integrity-checked before any zip is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from featherserve.layers.zipping import BuiltLayer, LayerEntry, LayerSpec, write_layer_zip
from model_store.aliases import AliasTable
from model_store.base import ALIASES_FILE, LATEST, LAYER_STORE, MANIFEST_FILE, ModelStore
from model_store.exceptions import IntegrityError, ModelStoreError
from model_store.integrity import verify_bytes

# Lambda unpacks every layer under /opt, so the zip's top folder is LAYER_STORE minus /opt.
LAYER_MODELS_DIR = PurePosixPath(LAYER_STORE).relative_to("/opt").as_posix()
MODEL_LAYER_PREFIX = "model-"


@dataclass(frozen=True)
class ModelRef:
    """A model and the version or alias to package (``digits``, ``digits@prod``, ``digits@3``)."""

    name: str
    ref: str = LATEST

    @classmethod
    def parse(cls, text: str, default_ref: str = LATEST) -> ModelRef:
        name, _, ref = text.strip().partition("@")
        if not name or (_ and not ref):
            raise ModelStoreError(f"{text!r}: expected NAME or NAME@VERSION_OR_ALIAS")
        return cls(name=name, ref=ref or default_ref)

    def __str__(self) -> str:
        return f"{self.name}@{self.ref}"


def model_layer_name(model_name: str) -> str:
    return f"{MODEL_LAYER_PREFIX}{model_name}"


def model_layer_zip(out_dir: Path, model_name: str) -> Path:
    return out_dir / f"{model_layer_name(model_name)}.zip"


def plan_model_layer(store: ModelStore, model: ModelRef, out_dir: Path) -> LayerSpec:
    """Read and verify one model, and describe its layer (nothing is written yet)."""
    opened = store.open(model.name, model.ref)
    manifest = opened.manifest
    what = f"model {manifest.name} v{manifest.version}"
    # The store already checked; check again so a layer never depends on a store's honesty.
    verify_bytes(opened.model_bytes, manifest.sha256, what)
    if manifest.bytes and len(opened.model_bytes) != manifest.bytes:
        raise IntegrityError(f"{what}: {len(opened.model_bytes)} bytes, the manifest records "
                             f"{manifest.bytes}; republish the model")
    folder = f"{LAYER_MODELS_DIR}/{manifest.name}/{manifest.version}"
    entries = [
        LayerEntry(f"{folder}/{manifest.file}", data=opened.model_bytes),
        LayerEntry(f"{folder}/{MANIFEST_FILE}", data=manifest.to_json().encode()),
    ]
    aliases = {alias: version for alias, version in store.aliases(manifest.name).items()
               if version == manifest.version and alias != LATEST}
    if aliases:
        # Same format as the store's own file; history means nothing with one version.
        payload = AliasTable(targets=aliases).to_json()
        entries.append(LayerEntry(f"{LAYER_MODELS_DIR}/{manifest.name}/{ALIASES_FILE}",
                                  data=payload.encode()))
    return LayerSpec(
        name=model_layer_name(manifest.name),
        zip_path=model_layer_zip(out_dir, manifest.name),
        entries=tuple(entries),
        description=f"{manifest.name} v{manifest.version} ({manifest.task})",
        manifest=manifest,
    )


def write_model_layers(specs: Iterable[LayerSpec],
                       log: Callable[[str], None] = lambda _: None) -> tuple[BuiltLayer, ...]:
    built = []
    for spec in specs:
        layer = write_layer_zip(spec)
        state = "written" if layer.changed else "unchanged"
        log(f"model layer {spec.name}: {spec.description} -> {layer.zip_path} ({state})")
        built.append(layer)
    return tuple(built)


def build_model_layers(store: ModelStore, models: Iterable[ModelRef], out_dir: Path,
                       log: Callable[[str], None] = lambda _: None) -> tuple[BuiltLayer, ...]:
    """Verify every model first, then write one reproducible zip per model."""
    specs = [plan_model_layer(store, model, out_dir) for model in models]
    return write_model_layers(specs, log)
