"""Size report: every function (its code package + the layers it uses) against Lambda's limits.

Checked: each zip (layer or code package) against the direct-upload limit, the number of
layers per function, and the unzipped total of code + layers per function. A failed
check is a line in ``problems`` naming the function or layer and the sizes involved.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from featherserve.layers.exceptions import LayerBuildError, LayerLimitError
from featherserve.layers.limits import DEFAULT_LIMITS, LambdaLimits, format_bytes
from featherserve.layers.zipping import BuiltLayer


def _size(size: int) -> str:
    return f"{format_bytes(size)} ({size:,} bytes)"


@dataclass(frozen=True)
class CodePackage:
    """A function's own package: a zip (``sls package`` output) or the folders it will hold."""

    source: str
    unzipped_bytes: int
    zipped_bytes: int | None = None

    @classmethod
    def measure(cls, paths: Sequence[Path]) -> CodePackage:
        if len(paths) == 1 and paths[0].suffix == ".zip":
            try:
                with zipfile.ZipFile(paths[0]) as archive:
                    unzipped = sum(i.file_size for i in archive.infolist())
            except (OSError, zipfile.BadZipFile) as exc:
                raise LayerBuildError(f"{paths[0]}: not a readable zip ({exc})") from exc
            return cls(str(paths[0]), unzipped, paths[0].stat().st_size)
        total = 0
        for path in paths:
            if not path.exists():
                raise LayerBuildError(f"code package path {path} does not exist")
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                total += sum((Path(folder) / f).stat().st_size for f in files
                             if not f.endswith(".pyc"))
        return cls(" + ".join(p.name for p in paths), total)

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "unzipped_bytes": self.unzipped_bytes,
                "zipped_bytes": self.zipped_bytes}


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code: CodePackage
    layers: tuple[str, ...]


@dataclass(frozen=True)
class FunctionSize:
    name: str
    code: CodePackage
    layers: tuple[BuiltLayer, ...]
    unzipped_bytes: int
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "code": self.code.to_dict(),
                "layers": [layer.name for layer in self.layers],
                "unzipped_bytes": self.unzipped_bytes, "ok": not self.problems,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class SizeReport:
    limits: LambdaLimits
    layers: tuple[BuiltLayer, ...]
    functions: tuple[FunctionSize, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_limits(self) -> None:
        if self.problems:
            raise LayerLimitError(list(self.problems))

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "limits": self.limits.__dict__,
                "layers": [layer.to_dict() for layer in self.layers],
                "functions": [f.to_dict() for f in self.functions],
                "problems": list(self.problems), "notes": list(self.notes)}


def _zip_problem(what: str, zipped: int | None, limits: LambdaLimits) -> list[str]:
    if zipped is None or zipped <= limits.max_zipped_bytes:
        return []
    return [f"{what}: zip is {_size(zipped)}, over the {_size(limits.max_zipped_bytes)} "
            "limit for a direct upload"]


def check_sizes(functions: Sequence[FunctionSpec], layers: Sequence[BuiltLayer],
                limits: LambdaLimits = DEFAULT_LIMITS, notes: Sequence[str] = ()) -> SizeReport:
    """Measure every function against ``limits``; never raises for an exceeded limit."""
    by_name = {layer.name: layer for layer in layers}
    problems: list[str] = []
    for layer in layers:
        problems += _zip_problem(f"layer {layer.name!r} ({layer.zip_path})", layer.zipped_bytes,
                                 limits)
    sized = []
    for function in functions:
        missing = [name for name in function.layers if name not in by_name]
        if missing:
            raise LayerBuildError(f"function {function.name!r} uses unknown layers {missing}")
        used = tuple(by_name[name] for name in function.layers)
        total = function.code.unzipped_bytes + sum(layer.unzipped_bytes for layer in used)
        own = _zip_problem(f"function {function.name!r} code package ({function.code.source})",
                           function.code.zipped_bytes, limits)
        if len(used) > limits.max_layers:
            own.append(f"function {function.name!r}: uses {len(used)} layers "
                       f"({', '.join(function.layers)}); Lambda allows at most {limits.max_layers}")
        if total > limits.max_unzipped_bytes:
            parts = ", ".join([f"code {format_bytes(function.code.unzipped_bytes)}"]
                              + [f"{layer.name} {format_bytes(layer.unzipped_bytes)}"
                                 for layer in used])
            own.append(f"function {function.name!r}: code + layers unzip to {_size(total)}, over "
                       f"Lambda's {_size(limits.max_unzipped_bytes)} limit ({parts})")
        problems += own
        sized.append(FunctionSize(function.name, function.code, used, total, tuple(own)))
    return SizeReport(limits, tuple(layers), tuple(sized), tuple(problems), tuple(notes))


def format_report(report: SizeReport) -> str:
    """The human table printed by ``featherserve layers``."""
    limits = report.limits
    lines = [f"{'layer':<28} {'files':>6} {'unzipped':>10} {'zipped':>10}  zip"]
    for layer in report.layers:
        flag = "  OVER" if layer.zipped_bytes > limits.max_zipped_bytes else ""
        lines.append(f"{layer.name:<28} {len(layer.files):>6} "
                     f"{format_bytes(layer.unzipped_bytes):>10} "
                     f"{format_bytes(layer.zipped_bytes):>10}  {layer.zip_path}{flag}")
    lines.append("")
    lines.append(f"{'function':<28} {'code':>10} {'unzipped':>10} {'limit':>10}  status  layers")
    for function in report.functions:
        status = "ok" if not function.problems else "OVER"
        lines.append(f"{function.name:<28} {format_bytes(function.code.unzipped_bytes):>10} "
                     f"{format_bytes(function.unzipped_bytes):>10} "
                     f"{format_bytes(limits.max_unzipped_bytes):>10}  {status:<6}  "
                     f"{', '.join(layer.name for layer in function.layers)}")
    lines.append(f"limits: {_size(limits.max_unzipped_bytes)} unzipped per function, "
                 f"{_size(limits.max_zipped_bytes)} per zip, {limits.max_layers} layers")
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"LIMIT EXCEEDED: {problem}" for problem in report.problems]
    return "\n".join(lines)
