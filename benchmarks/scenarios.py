"""What gets measured: the shipped models (frozen for the run), their teachers, the scenarios.

Models are copied at the start of a run from the project store into a folder with the
layout a model layer unpacks to (``<name>/<version>/{model.onnx,manifest.json}``), and the
teacher artefacts next to them, so training jobs that publish meanwhile cannot change what
a run measures halfway through.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.children import ROOT
from model_store.base import MANIFEST_FILE
from model_store.integrity import sha256_file
from model_store.local import LocalStore
from model_store.manifest import ImageSpec, Manifest

HANDLERS_DIR = ROOT / "handlers"
FLOOR = "floor"                                # the plain floor, in the virtualenv
# Where a scenario runs: the virtualenv's interpreter, or the packaged function on
# CPython 3.12 in isolated mode with only its task root and layers (as Lambda runs it).
Where = Literal["venv", "packaged"]
# floor: onnxruntime + numpy, default settings; floor-l4l: the same with the handler's
# interpreter, environment and bytecode (like for like); layer: a handler serving from its
# model layer; ablation: that handler with one change undone; extra: a cost measured alone.
Kind = Literal["floor", "floor-l4l", "layer", "ablation", "extra", "s3", "naive"]
NAIVE_KINDS = {"joblib": "naive joblib teacher", "torch": "naive torch teacher"}


@dataclass(frozen=True)
class ShippedModel:
    """One model frozen for this run: its manifest, layer-layout copy and handler module."""

    manifest: Manifest
    model_file: Path
    handler_module: str

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def manifest_file(self) -> Path:
        return self.model_file.parent / MANIFEST_FILE

    @property
    def is_image(self) -> bool:
        return isinstance(self.manifest.input, ImageSpec)


@dataclass(frozen=True)
class Teachers:
    """A model's teacher artefacts, copied for this run (any of them may be missing)."""

    joblib: Path | None = None
    torch: Path | None = None
    onnx: Path | None = None


@dataclass(frozen=True)
class Scenario:
    """One way of answering a first request in a fresh process."""

    id: str
    label: str
    kind: Kind
    model: str | None = None
    imports: tuple[str, ...] = ()
    init: Mapping[str, Any] | None = None
    event: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    baseline: str | None = None     # the naive scenario this one is compared with
    where: Where = "venv"
    command: tuple[str, ...] = ()   # interpreter and flags; () is this venv's python -P
    clean_env: bool = False         # env is the whole environment (Lambda's), not added
    sys_path: tuple[str, ...] = ()
    warm_requests: int = 0          # more requests after the first, in the same process
    change: str | None = None       # ablation: the change undone in this scenario

    def spec(self) -> dict[str, Any]:
        """What ``probe.py`` needs (per-sample fields are added by the runner)."""
        return {"imports": list(self.imports), "init": dict(self.init) if self.init else None,
                "event": str(self.event) if self.event else None,
                "sys_path": list(self.sys_path), "warm_requests": self.warm_requests}


def shipped_model_names(store: Path) -> list[str]:
    """Models in ``store`` that have a thin handler module ``handlers/<name>.py``."""
    return [name for name in LocalStore(store).names() if (HANDLERS_DIR / f"{name}.py").is_file()]


def freeze_models(store: Path, names: list[str], layer_root: Path) -> dict[str, ShippedModel]:
    """Copy each model's latest version into ``layer_root`` in the layer layout."""
    source = LocalStore(store)
    frozen: dict[str, ShippedModel] = {}
    for name in names:
        manifest = source.manifest(name)
        folder = layer_root / name / manifest.version
        folder.mkdir(parents=True)
        model_file = folder / manifest.file
        shutil.copyfile(source.model_path(name, manifest.version), model_file)
        (folder / MANIFEST_FILE).write_text(manifest.to_json())
        if sha256_file(model_file) != manifest.sha256:
            raise RuntimeError(f"{name} v{manifest.version} changed while it was copied")
        frozen[name] = ShippedModel(manifest, model_file, f"handlers.{name}")
    return frozen


def freeze_teachers(teachers_dir: Path, names: list[str], dest: Path) -> dict[str, Teachers]:
    """Copy ``<name>_teacher.{joblib,pt,onnx}`` that exist for each model into ``dest``."""
    found: dict[str, Teachers] = {}
    for name in names:
        copies: dict[str, Path] = {}
        for key, suffix in (("joblib", ".joblib"), ("torch", ".pt"), ("onnx", ".onnx")):
            path = teachers_dir / f"{name}_teacher{suffix}"
            if path.is_file():
                dest.mkdir(parents=True, exist_ok=True)
                copies[key] = Path(shutil.copy2(path, dest / path.name))
        found[name] = Teachers(**copies)
    return found


def floor_scenario() -> Scenario:
    return Scenario(id=FLOOR, label="floor: python + import onnxruntime, numpy", kind="floor",
                    imports=("onnxruntime", "numpy"))


def floors(where: Where, *, env: Mapping[str, str], command: tuple[str, ...] = (),
           sys_path: tuple[str, ...] = (), clean_env: bool = False,
           process_env: Mapping[str, str]) -> list[Scenario]:
    """The plain floor (default settings) and the like-for-like one (``process_env`` too)."""
    prefix = "" if where == "venv" else "packaged/"
    label = "" if where == "venv" else " (packaged, CPython 3.12 -I)"
    common = {"where": where, "command": command, "sys_path": sys_path,
              "clean_env": clean_env, "imports": ("onnxruntime", "numpy")}
    plain = {k: v for k, v in env.items() if k not in process_env}
    return [Scenario(id=f"{prefix}floor", label=f"floor: import onnxruntime, numpy{label}",
                     kind="floor", env=plain, **common),  # type: ignore[arg-type]
            Scenario(id=f"{prefix}floor-l4l", kind="floor-l4l",
                     label=f"like-for-like floor: same + the handler's env, bytecode{label}",
                     env={**env, **process_env}, **common)]  # type: ignore[arg-type]


def handler_scenario(model: ShippedModel, event: Path, *, source: str, kind: Kind,
                     env: Mapping[str, str], baseline: str | None) -> Scenario:
    where = "model layer folder" if kind == "layer" else "S3 (moto_server)"
    return Scenario(
        id=f"{model.name}/{kind}", label=f"{model.name} handler, {where}", kind=kind,
        model=model.name, imports=("model_runtime",),
        init={"module": model.handler_module, "attribute": "handler"}, event=event,
        env={**env, "FEATHERSERVE_MODEL_SOURCE": source}, baseline=baseline)


def naive_scenarios(model: ShippedModel, teachers: Teachers, event: Path) -> list[Scenario]:
    """The teacher served the obvious way: joblib for tabular, torch for image models."""
    found: list[Scenario] = []
    if teachers.joblib is not None and not model.is_image:
        found.append(_naive(model, "joblib", teachers.joblib, event, ("numpy", "joblib")))
    if teachers.torch is not None and model.is_image:
        found.append(_naive(model, "torch", teachers.torch, event,
                            ("numpy", "torch", "training.image.models",
                             "preprocessing.imaging")))
    return found


def _naive(model: ShippedModel, engine: str, teacher: Path, event: Path,
           imports: tuple[str, ...]) -> Scenario:
    return Scenario(
        id=f"{model.name}/{engine}-teacher", label=f"{model.name}, {NAIVE_KINDS[engine]}",
        kind="naive", model=model.name, imports=imports, event=event,
        init={"module": "benchmarks.naive", "attribute": f"{engine}_teacher_handler",
              "kwargs": {"teacher": str(teacher), "manifest": str(model.manifest_file)}})
