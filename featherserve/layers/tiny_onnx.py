"""A tiny ONNX model (``y = x + x``), encoded by hand so the import check needs no ``onnx``.

The layer ships onnxruntime but not the ``onnx`` package, and the handler side must not
import it; a dozen lines of protobuf wire format are enough for a smoke-test model.
"""

from __future__ import annotations

ONNX_FLOAT = 1
IR_VERSION = 8
OPSET = 13
INPUT_NAME = "x"
OUTPUT_NAME = "y"
FEATURES = 3


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _tensor_value_info(name: str) -> bytes:
    dims = _bytes(1, _bytes(2, "batch")) + _bytes(1, _int(1, FEATURES))
    tensor_type = _int(1, ONNX_FLOAT) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def tiny_add_model() -> bytes:
    """ModelProto bytes: float input ``x`` of shape (batch, 3), output ``y = x + x``."""
    node = _bytes(1, INPUT_NAME) + _bytes(1, INPUT_NAME) + _bytes(2, OUTPUT_NAME) \
        + _bytes(3, "double") + _bytes(4, "Add")
    graph = _bytes(1, node) + _bytes(2, "featherserve_smoke") \
        + _bytes(11, _tensor_value_info(INPUT_NAME)) + _bytes(12, _tensor_value_info(OUTPUT_NAME))
    opset = _bytes(1, "") + _int(2, OPSET)
    return _int(1, IR_VERSION) + _bytes(2, "featherserve") + _bytes(7, graph) + _bytes(8, opset)
