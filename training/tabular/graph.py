"""The served tabular graph: preprocessing + student as one ONNX file, checked against
scikit-learn and torch, and an honest int8 trial."""

from __future__ import annotations

import io
import logging
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from training.tabular.preprocess import FEATURES_OUTPUT
from training.tabular.student import ServedStudent

FloatArray = npt.NDArray[np.float32]
Feeds = dict[str, npt.NDArray[Any]]
PROBABILITIES = "probabilities"
VALUE = "value"
# What the fp32 graph may differ from scikit-learn + torch by (float32 arithmetic).
GRAPH_TOLERANCE = 1e-4


def student_onnx(student: ServedStudent, *, width: int, opset: int,
                 input_name: str = FEATURES_OUTPUT) -> onnx.ModelProto:
    """The student alone: "features" (or ``input_name``) [N, width] → "probabilities"
    [N, C] or "value" [N, 1].

    The TorchScript exporter (``dynamo=False``): the torch.export one needs ``onnxscript``,
    which the kit does not depend on. Its output is a pure function of the weights, so the
    same weights give the same bytes (the store's sha256 then finds the existing version).
    """
    output = VALUE if student.regression else PROBABILITIES
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            student, (torch.zeros(1, width, dtype=torch.float32),), buffer,  # type: ignore[arg-type]
            dynamo=False,
            opset_version=opset, input_names=[input_name], output_names=[output],
            dynamic_axes={input_name: {0: "batch"}, output: {0: "batch"}},
            do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue())


def combine(preprocessing: onnx.ModelProto, student: onnx.ModelProto,
            path: Path) -> Path:
    """One graph, raw inputs → prediction, written to ``path`` and checked by onnx."""
    # skl2onnx declares the lowest opset its operators need; lift it to the student's.
    target = _opset(student, "")
    if _opset(preprocessing, "") < target:
        ml = [o for o in preprocessing.opset_import if o.domain not in ("", "ai.onnx")]
        preprocessing = onnx.version_converter.convert_version(preprocessing, target)
        if not any(o.domain == "ai.onnx.ml" for o in preprocessing.opset_import):
            preprocessing.opset_import.extend(ml)
    preprocessing.ir_version = student.ir_version = max(preprocessing.ir_version,
                                                        student.ir_version)
    merged = onnx.compose.merge_models(
        preprocessing, student, io_map=[(FEATURES_OUTPUT, FEATURES_OUTPUT)],
        prefix2="student_", producer_name="featherserve")
    # merge_models prefixes the student's names; give the output its plain name back.
    for output in merged.graph.output:
        plain = output.name.removeprefix("student_")
        if plain != output.name:
            for node in merged.graph.node:
                for i, name in enumerate(node.output):
                    if name == output.name:
                        node.output[i] = plain
            output.name = plain
    merged.graph.name = "featherserve_tabular"
    # merge_models writes both graphs' names into the doc string, and skl2onnx names its
    # graph with a random uuid: without this the same model would get new bytes each build.
    merged.graph.doc_string = ""
    # One entry per domain ("ai.onnx" is ""), as onnxruntime's quantizer requires.
    versions: dict[str, int] = {}
    for entry in merged.opset_import:
        domain = "" if entry.domain == "ai.onnx" else entry.domain
        versions[domain] = max(versions.get(domain, 0), entry.version)
    del merged.opset_import[:]
    merged.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in sorted(versions.items()))
    return write_graph(merged, path)


def write_graph(model: onnx.ModelProto, path: Path) -> Path:
    """``model`` checked by onnx and written to ``path``."""
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _opset(model: onnx.ModelProto, domain: str) -> int:
    return next((o.version for o in model.opset_import if o.domain in (domain, "ai.onnx")),
                0)


def open_session(path: Path) -> ort.InferenceSession:
    """A single-threaded CPU session, as a Lambda handler runs it."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(session: ort.InferenceSession, feeds: Feeds, output: str | None = None) -> FloatArray:
    """The graph's first output, or the one named ``output``."""
    result: FloatArray = session.run(None if output is None else [output], feeds)[0]
    return result


def check_graph_matches(path: Path, feeds: Feeds, expected: FloatArray,
                        *, atol: float = GRAPH_TOLERANCE) -> float:
    """Raise unless onnxruntime reproduces scikit-learn + torch; return the largest gap."""
    actual = run(open_session(path), feeds).reshape(expected.shape)
    gap = float(np.abs(expected - actual).max())
    if not np.allclose(actual, expected, rtol=1e-5, atol=atol):
        raise RuntimeError(f"{path}: onnxruntime differs from scikit-learn + torch by "
                           f"{gap:.2e} (> {atol})")
    return gap


@dataclass(frozen=True)
class Int8Trial:
    """The fp32 graph vs its dynamic-int8 version, measured in one process on the same rows.

    ``score`` is accuracy for a classifier and R² for regression.
    """

    fp32_bytes: int
    int8_bytes: int
    fp32_score: float
    int8_score: float
    agreement: float  # classifier: share of rows with the same class; regression: 1 - max rel gap
    fp32_latency_us: float  # median over rounds of one warm call on a small batch
    int8_latency_us: float
    batch: int
    score_name: str = "accuracy"
    # What was quantized, when not the fp32 graph itself.
    quantized: str = ""

    @property
    def worth_it(self) -> bool:
        return (self.int8_bytes < self.fp32_bytes and self.int8_score >= self.fp32_score
                and self.int8_latency_us <= self.fp32_latency_us)

    def summary(self) -> str:
        source = f" of {self.quantized}" if self.quantized else ""
        return (f"onnxruntime quantize_dynamic{source} (int8 weights, uint8 activations; the "
                f"preprocessing stays float) on the test split: {self.int8_bytes} vs "
                f"{self.fp32_bytes} bytes; {self.score_name} {self.int8_score:.4f} vs "
                f"{self.fp32_score:.4f} (agreement {self.agreement:.1%}); warm latency "
                f"{self.int8_latency_us:.1f} vs {self.fp32_latency_us:.1f} us per call "
                f"(batch {self.batch}, 1 thread, median)")

    def reason(self) -> str:
        if self.worth_it:
            return f"int8 applied: smaller, as good and not slower. {self.summary()}"
        failed = [why for bad, why in (
            (self.int8_bytes >= self.fp32_bytes, "not smaller"),
            (self.int8_score < self.fp32_score, f"worse on {self.score_name}"),
            (self.int8_latency_us > self.fp32_latency_us, "slower")) if bad]
        return f"kept fp32: int8 was {', '.join(failed)}. {self.summary()}"


def try_int8(fp32_path: Path, work: Path, feeds: Feeds,
             score: Callable[[FloatArray], float], agreement: Callable[[FloatArray, FloatArray],
                                                                       float],
             *, batch: int, rounds: int, runs_per_round: int,
             score_name: str, quantize_from: Path | None = None,
             quantized: str = "") -> tuple[Int8Trial, Path]:
    """Quantize ``quantize_from`` (default: ``fp32_path``, the same function), measure
    against ``fp32_path``; return the trial and the int8 file.

    A graph with the standardisation folded into its first layer is quantized from its
    unfolded twin: dynamic quantization gives that layer's input one uint8 scale, which raw
    features (0.001 to 4000 on breast cancer) cannot share and standardised ones can.
    """
    int8_path = work / "student.int8.onnx"
    # quantize_dynamic logs a hint to run quant_pre_process first; measured on breast cancer,
    # that made the file 20% bigger for the same accuracy, so the hint is silenced.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(quantize_from or fp32_path), str(int8_path),
                         weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    fp32, int8 = open_session(fp32_path), open_session(int8_path)
    out32, out8 = run(fp32, feeds), run(int8, feeds)
    small = {name: values[:batch] for name, values in feeds.items()}
    lat32, lat8 = _interleaved_latency_us(fp32, int8, small, rounds, runs_per_round)
    trial = Int8Trial(
        fp32_bytes=fp32_path.stat().st_size, int8_bytes=int8_path.stat().st_size,
        fp32_score=score(out32), int8_score=score(out8), agreement=agreement(out32, out8),
        fp32_latency_us=lat32, int8_latency_us=lat8, batch=batch, score_name=score_name,
        quantized=quantized)
    return trial, int8_path


def _interleaved_latency_us(a: ort.InferenceSession, b: ort.InferenceSession, feeds: Feeds,
                            rounds: int, runs: int) -> tuple[float, float]:
    """Median per-call time of each session; rounds alternate so drift hits both alike."""
    for session in (a, b):
        for _ in range(runs):
            run(session, feeds)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for session, out in ((a, times[0]), (b, times[1])):
            started = time.perf_counter()
            for _ in range(runs):
                run(session, feeds)
            out.append((time.perf_counter() - started) / runs * 1e6)
    return statistics.median(times[0]), statistics.median(times[1])
