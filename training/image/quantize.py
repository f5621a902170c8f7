"""Static int8 quantization (QDQ) of an exported student, and the graph that gets served.

Steps: ``quant_pre_process`` (shape inference + basic graph optimisation) → ``quantize_static``
in QDQ format, calibrated with MinMax over preprocessed *training* images → the graph as
onnxruntime optimises it at ``ORT_ENABLE_EXTENDED``, saved with ``optimized_model_filepath``.

Choices, for a Lambda x86_64 CPU whose exact model we do not know:

- activations uint8, weights int8 per output channel, ``reduce_range`` (7-bit weights): the
  onnxruntime guidance for x86 without VNNI, where u8×s8 products can saturate 16-bit
  intermediates. With VNNI it costs nothing measurable on this model.
- ``ORT_ENABLE_EXTENDED``, not ``ALL``: extended fusions (QDQ → QLinearConv/QGemm, Conv+ReLU)
  are CPU-EP operators that run on any x86_64, while the ``ALL`` level adds layout
  transforms (NCHWc blocking chosen for *this* machine's AVX2/AVX-512), which onnxruntime
  says not to save for other hardware. The handler still optimises at load time.
- the classifier's last Gemm and the softmax produce float outputs (the Gemm itself still
  runs in int8 as QGemm): scores keep full resolution instead of 1/256 steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from training.image.export import INPUT_NAME

Array = npt.NDArray[np.float32]
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# What quantize_static may touch: the convolutions, the classifier's Gemm and the ops that
# merely move int8 data between them. Never Softmax.
QUANTIZED_OP_TYPES = ("Conv", "Gemm", "Relu", "MaxPool", "Flatten", "Reshape")
QUANTIZED_OPS = (*QDQ_OPS, "QLinearConv", "QGemm", "QLinearMatMul", "QLinearAdd")


class ArrayCalibrationReader(CalibrationDataReader):  # type: ignore[misc]
    """Feeds preprocessed images to the calibrator in small batches."""

    def __init__(self, x: Array, batch_size: int = 64) -> None:
        self._batches: Iterator[Array] = iter(
            [x[i:i + batch_size] for i in range(0, len(x), batch_size)])

    def get_next(self) -> dict[str, Array] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def quantize_int8(fp32_path: Path, qdq_path: Path, calibration: Array) -> Path:
    """``fp32_path`` → static int8 QDQ model at ``qdq_path``."""
    prepared = qdq_path.with_name(qdq_path.stem + ".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared))
    quantize_static(
        str(prepared), str(qdq_path), ArrayCalibrationReader(calibration),
        quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        # The softmax is left out, so the Gemm's output (the logits) and the probabilities
        # stay float: no 1/256-step scores, no ties made by rounding.
        op_types_to_quantize=list(QUANTIZED_OP_TYPES),
        extra_options={"OpTypesToExcludeOutputQuantization": ["Gemm"]})
    prepared.unlink(missing_ok=True)
    return qdq_path


def optimise_for_target(model_path: Path, out_path: Path) -> Path:
    """Save the graph as onnxruntime optimises it (extended level) for the served file."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out_path)
    options.intra_op_num_threads = 1
    ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return out_path


def operator_counts(model_path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in onnx.load(str(model_path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def is_int8_model(model_path: Path) -> bool:
    """True when the graph computes in int8 (QDQ nodes, or the fused QLinear/QGemm kernels)."""
    return any(op in operator_counts(model_path) for op in QUANTIZED_OPS)


def onnx_predict(model_path: Path, x: Array, *, batch_size: int = 256,
                 threads: int = 1) -> Array:
    """Outputs of the model at ``model_path`` for ``x``, batched."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [session.run(None, {name: x[i:i + batch_size]})[0]
               for i in range(0, len(x), batch_size)]
    return np.concatenate(outputs).astype(np.float32)
