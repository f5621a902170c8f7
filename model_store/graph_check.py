"""Does an ONNX graph take and give what its manifest says? Checked on publish and at init.

Works on a ``GraphSignature`` (names, dtypes and shapes of the graph's inputs and outputs)
read from an onnxruntime session, so the handler needs neither the ``onnx`` package nor a
second parse of the model: ``check_graph(manifest, signature_of(session))``.

    input names         the manifest's ``input_name`` (matrix, image) or one per feature
    input dtypes        float32, or string for a categorical feature
    input shapes        [N, features] / [N, 1] per feature / [N, C, H, W]
    output              the manifest's output exists; [N, labels] for a classifier,
                        [N] or [N, 1] for a regression model
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model_store.exceptions import ManifestError
from model_store.manifest import ImageSpec, Manifest, TabularSpec

Dim = int | None  # None: symbolic (the batch) or unknown

# onnxruntime's type strings → the manifest's dtype names.
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(string)": "string",
               "tensor(double)": "float64", "tensor(int64)": "int64",
               "tensor(int32)": "int32", "tensor(uint8)": "uint8", "tensor(float16)": "float16"}


class GraphMismatchError(ManifestError):
    """The ONNX graph does not take or give what its manifest says."""


@dataclass(frozen=True)
class TensorSignature:
    name: str
    dtype: str
    shape: tuple[Dim, ...] | None  # None: rank unknown

    def describe(self) -> str:
        dims = "?" if self.shape is None else ", ".join(
            "N" if d is None else str(d) for d in self.shape)
        return f"{self.name!r} {self.dtype} [{dims}]"


@dataclass(frozen=True)
class GraphSignature:
    inputs: tuple[TensorSignature, ...]
    outputs: tuple[TensorSignature, ...]


def signature_of(session: Any) -> GraphSignature:
    """The inputs and outputs of an ``onnxruntime.InferenceSession``."""
    def convert(arg: Any) -> TensorSignature:
        shape = arg.shape
        dims = None if shape is None else tuple(d if isinstance(d, int) else None
                                                for d in shape)
        return TensorSignature(arg.name, _ORT_DTYPES.get(arg.type, arg.type), dims)

    return GraphSignature(tuple(convert(a) for a in session.get_inputs()),
                          tuple(convert(a) for a in session.get_outputs()))


def expected_inputs(manifest: Manifest) -> tuple[TensorSignature, ...]:
    """What the manifest promises the handler will feed."""
    spec = manifest.input
    if isinstance(spec, ImageSpec):
        return (TensorSignature(manifest.input_name, "float32",
                                (None, spec.channels, spec.height, spec.width)),)
    assert isinstance(spec, TabularSpec)
    if spec.layout == "matrix":
        return (TensorSignature(manifest.input_name, "float32", (None, len(spec.features))),)
    return tuple(TensorSignature(f.name, f.dtype, (None, 1)) for f in spec.features)


def graph_problems(manifest: Manifest, graph: GraphSignature) -> list[str]:
    """Every disagreement, each naming the manifest's side and the graph's side."""
    problems: list[str] = []
    expected = expected_inputs(manifest)
    actual = {t.name: t for t in graph.inputs}
    for want in expected:
        have = actual.get(want.name)
        if have is None:
            listed = ", ".join(t.describe() for t in graph.inputs) or "none"
            problems.append(f"manifest input {want.describe()} is not an input of the graph "
                            f"(graph inputs: {listed})")
            continue
        if have.dtype != want.dtype or not _shape_fits(have.shape, want.shape):
            problems.append(f"manifest input {want.describe()} vs graph input "
                            f"{have.describe()}")
        elif have.shape and have.shape[0] is not None:
            problems.append(f"graph input {have.describe()} fixes the batch size; the "
                            "manifest's handler sends batches of any size (export it with "
                            "a dynamic first dimension)")
    extra = sorted(set(actual) - {t.name for t in expected})
    if extra:
        problems.append(f"graph input(s) {', '.join(actual[n].describe() for n in extra)} "
                        "are not in the manifest, so the handler would never feed them")
    problems += _output_problems(manifest, graph)
    return problems


def check_graph(manifest: Manifest, graph: GraphSignature) -> None:
    problems = graph_problems(manifest, graph)
    if problems:
        raise GraphMismatchError(f"{manifest.name}: manifest and ONNX graph disagree: "
                                 + "; ".join(problems))


def _output_problems(manifest: Manifest, graph: GraphSignature) -> list[str]:
    outputs = {t.name: t for t in graph.outputs}
    have = outputs.get(manifest.output.name)
    if have is None:
        listed = ", ".join(t.describe() for t in graph.outputs)
        return [f"manifest output {manifest.output.name!r} is not an output of the graph "
                f"(graph outputs: {listed})"]
    if have.dtype != "float32":
        return [f"manifest output {manifest.output.name!r} must be float32; the graph's is "
                f"{have.describe()}"]
    shape = have.shape
    if manifest.task.endswith("classification"):
        want = (None, len(manifest.labels))
        if not _shape_fits(shape, want):
            return [f"manifest task {manifest.task} with {len(manifest.labels)} labels needs "
                    f"output [N, {len(manifest.labels)}]; the graph's is {have.describe()}"]
        return []
    if shape is not None and not (len(shape) == 1 or (len(shape) == 2 and shape[1] in (1, None))):
        return [f"manifest task {manifest.task} needs one value per row ([N] or [N, 1]); the "
                f"graph's output is {have.describe()}"]
    return []


def _shape_fits(have: tuple[Dim, ...] | None, want: tuple[Dim, ...] | None) -> bool:
    """Same rank, and every dimension the manifest fixes is that size (or unknown)."""
    if have is None or want is None:
        return True
    if len(have) != len(want):
        return False
    return all(w is None or h is None or h == w for h, w in zip(have, want, strict=True))
