"""PyTorch classifier → ONNX (fp32): input "input" [N, C, H, W] float32, output "probabilities".

Uses the TorchScript exporter (``dynamo=False``): the torch.export-based one needs
``onnxscript``, which the kit does not depend on, and gains nothing for a plain CNN.
BatchNorm is folded into the convolutions by constant folding.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from model_store.manifest import ImageSpec
from training.image.models import WithSoftmax

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


def export_onnx(model: nn.Module, path: Path, spec: ImageSpec, *, opset: int = OPSET) -> Path:
    """Write ``softmax(model(input))`` to ``path`` with a dynamic batch dimension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapped = WithSoftmax(model).eval()
    example = torch.zeros(1, spec.channels, spec.height, spec.width, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapped, (example,), str(path), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True)
    return path
