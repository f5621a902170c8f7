"""The tabular student as ONNX: export, check against torch, and an honest int8 trial."""

from __future__ import annotations

import logging
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from training.tabular_student import ServedStudent, predict_probabilities

FloatArray = npt.NDArray[np.float32]
LabelArray = npt.NDArray[np.int64]
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


def export_student(student: ServedStudent, path: Path, *, n_features: int, opset: int) -> Path:
    """Write the student to ``path``: "input" [N, n_features] → "probabilities" [N, classes].

    The TorchScript exporter (``dynamo=False``): the torch.export one needs ``onnxscript``,
    which the kit does not depend on. Its output is a pure function of the weights, so the
    same weights give the same bytes (the store's sha256 then finds the existing version).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, n_features, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            student, (example,), str(path), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return path


def open_session(path: Path) -> ort.InferenceSession:
    """A single-threaded CPU session, as a Lambda handler runs it."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_probabilities(session: ort.InferenceSession, x: FloatArray) -> FloatArray:
    result: FloatArray = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    return result


def check_matches_torch(path: Path, student: ServedStudent, x: FloatArray,
                        *, atol: float = 1e-6) -> float:
    """Raise unless onnxruntime reproduces torch's probabilities; return the largest gap."""
    expected = predict_probabilities(student, x)
    actual = onnx_probabilities(open_session(path), x)
    gap = float(np.abs(expected - actual).max())
    if actual.shape != expected.shape or not np.allclose(actual, expected, rtol=0, atol=atol):
        raise RuntimeError(f"{path}: onnxruntime differs from torch by {gap:.2e} (> {atol})")
    return gap


def accuracy(probabilities: FloatArray, y: LabelArray) -> float:
    return float((probabilities.argmax(axis=1) == y).mean())


@dataclass(frozen=True)
class Int8Trial:
    """The fp32 student vs its dynamic-int8 version, measured in one process on the same rows.

    The int8 candidate is quantized from the export with explicit standardisation: dynamic
    quantization gives a MatMul input one uint8 scale, and raw features (0.001 to 4000)
    cannot share one. ``folded_int8_accuracy`` records what quantizing the folded graph gives.
    """

    fp32_bytes: int
    int8_bytes: int
    fp32_accuracy: float
    int8_accuracy: float
    folded_int8_accuracy: float
    agreement: float  # share of test rows where fp32 and int8 pick the same class
    fp32_latency_us: float  # median over rounds of one warm call on a small batch
    int8_latency_us: float
    batch: int

    @property
    def worth_it(self) -> bool:
        return (self.int8_bytes < self.fp32_bytes and self.int8_accuracy >= self.fp32_accuracy
                and self.int8_latency_us <= self.fp32_latency_us)

    def summary(self) -> str:
        return (f"onnxruntime quantize_dynamic (int8 weights, uint8 activations) of the graph "
                f"with standardisation as Sub/Div, vs the fp32 graph with it folded, on the "
                f"test split: {self.int8_bytes} vs {self.fp32_bytes} bytes; accuracy "
                f"{self.int8_accuracy:.4f} vs {self.fp32_accuracy:.4f} (same class on "
                f"{self.agreement:.1%} of rows); warm latency {self.int8_latency_us:.1f} vs "
                f"{self.fp32_latency_us:.1f} us per call (batch {self.batch}, 1 thread, median). "
                f"Quantizing the folded graph instead: accuracy "
                f"{self.folded_int8_accuracy:.4f}, raw features cannot share one uint8 scale")

    def reason(self) -> str:
        if self.worth_it:
            return f"int8 applied: smaller, as accurate and not slower. {self.summary()}"
        failed = [why for bad, why in (
            (self.int8_bytes >= self.fp32_bytes, "not smaller"),
            (self.int8_accuracy < self.fp32_accuracy, "less accurate"),
            (self.int8_latency_us > self.fp32_latency_us, "slower")) if bad]
        return f"kept fp32: int8 was {', '.join(failed)}. {self.summary()}"


def try_int8(fp32_path: Path, standardised_path: Path, work: Path, x_test: FloatArray,
             y_test: LabelArray, *, batch: int, rounds: int,
             runs_per_round: int) -> tuple[Int8Trial, Path]:
    """Quantize, measure against ``fp32_path``; return the trial and the int8 file."""
    int8_path = _quantize(standardised_path, work / "student.int8.onnx")
    folded_int8 = _quantize(fp32_path, work / "student.folded.int8.onnx")
    fp32, int8 = open_session(fp32_path), open_session(int8_path)
    p32, p8 = onnx_probabilities(fp32, x_test), onnx_probabilities(int8, x_test)
    lat32, lat8 = _interleaved_latency_us(fp32, int8, x_test[:batch], rounds, runs_per_round)
    trial = Int8Trial(
        fp32_bytes=fp32_path.stat().st_size, int8_bytes=int8_path.stat().st_size,
        fp32_accuracy=accuracy(p32, y_test), int8_accuracy=accuracy(p8, y_test),
        folded_int8_accuracy=accuracy(
            onnx_probabilities(open_session(folded_int8), x_test), y_test),
        agreement=float((p32.argmax(axis=1) == p8.argmax(axis=1)).mean()),
        fp32_latency_us=lat32, int8_latency_us=lat8, batch=batch)
    return trial, int8_path


def _quantize(source: Path, target: Path) -> Path:
    # quantize_dynamic logs a hint to run quant_pre_process first; measured here, that made
    # the file 20% bigger for the same accuracy, so the hint is silenced rather than taken.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    return target


def _interleaved_latency_us(a: ort.InferenceSession, b: ort.InferenceSession, x: FloatArray,
                            rounds: int, runs: int) -> tuple[float, float]:
    """Median per-call time of each session; rounds alternate so drift hits both alike."""
    for session in (a, b):
        for _ in range(runs):
            onnx_probabilities(session, x)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for session, out in ((a, times[0]), (b, times[1])):
            started = time.perf_counter()
            for _ in range(runs):
                onnx_probabilities(session, x)
            out.append((time.perf_counter() - started) / runs * 1e6)
    return statistics.median(times[0]), statistics.median(times[1])
