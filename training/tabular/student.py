"""The tabular student: a small MLP, trained on soft or hard targets, served on raw features."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from training.fit import FitSettings, fit_classifier
from training.tabular_config import TabularConfig

FloatArray = npt.NDArray[np.float32]
LabelArray = npt.NDArray[np.int64]


def build_mlp(n_features: int, hidden: tuple[int, ...], n_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_student(x: FloatArray, y: LabelArray, soft_logits: FloatArray | None, *,
                  config: TabularConfig, seed: int, label: str) -> nn.Sequential:
    """Train an MLP on standardised ``x``: distilled from ``soft_logits``, or on labels alone.

    Both kinds start from the same weights and see the same batches in the same order for a
    given seed, so the only difference between them is the target.
    """
    torch.manual_seed(seed)
    model = build_mlp(x.shape[1], config.hidden, int(y.max()) + 1)
    settings = FitSettings(epochs=config.epochs, batch_size=config.batch_size,
                           learning_rate=config.learning_rate,
                           weight_decay=config.weight_decay, temperature=config.temperature,
                           distill_weight=config.distillation_weight)
    fit_classifier(model, x, y, settings, seed=seed, label=label, teacher_logits=soft_logits)
    return model


class ServedStudent(nn.Module):
    """``softmax(mlp(standardise(x)))`` on raw feature values, ready for ONNX export.

    Layers are written ``x @ W + b`` (ONNX MatMul + Add) rather than ``nn.Linear`` (Gemm):
    onnxruntime's dynamic int8 quantizer rewrites MatMul and leaves Gemm alone. With
    ``mean``/``std`` the standardisation is explicit (ONNX Sub + Div); without, it has been
    folded into the first layer's weights.
    """

    def __init__(self, weights: list[torch.Tensor], biases: list[torch.Tensor],
                 mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> None:
        super().__init__()
        self.weights = nn.ParameterList(nn.Parameter(w, requires_grad=False) for w in weights)
        self.biases = nn.ParameterList(nn.Parameter(b, requires_grad=False) for b in biases)
        self.mean = None if mean is None else nn.Parameter(mean, requires_grad=False)
        self.std = None if std is None else nn.Parameter(std, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is not None and self.std is not None:
            x = (x - self.mean) / self.std
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.matmul(x, weight) + bias
            if i < last:
                x = torch.relu(x)
        return torch.softmax(x, dim=1)


def _layers(model: nn.Sequential) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each Linear's (W transposed, b) in float64."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return ([lin.weight.detach().double().T.clone() for lin in linears],
            [lin.bias.detach().double().clone() for lin in linears])


def fold_standardisation(model: nn.Sequential, mean: npt.NDArray[np.float64],
                         std: npt.NDArray[np.float64]) -> ServedStudent:
    """The served module for ``model`` trained on ``(x - mean) / std``; takes raw ``x``.

    W·((x - m)/s) + b = (W/s)·x + (b - (W/s)·m), computed in float64 then rounded once:
    no extra operators, no extra constants.
    """
    weights, biases = _layers(model)
    weights[0] = weights[0] * torch.from_numpy(1.0 / std).unsqueeze(1)  # row per feature
    biases[0] = biases[0] - torch.from_numpy(mean) @ weights[0]
    return ServedStudent([w.float().contiguous() for w in weights],
                         [b.float() for b in biases]).eval()


def explicit_standardisation(model: nn.Sequential, mean: npt.NDArray[np.float64],
                             std: npt.NDArray[np.float64]) -> ServedStudent:
    """The same function with standardisation as its own operators.

    For the int8 trial: dynamic quantization gives the first MatMul's input one uint8 scale
    per tensor, which raw features spanning 0.001 to 4000 cannot share; standardised ones can.
    """
    weights, biases = _layers(model)
    return ServedStudent([w.float().contiguous() for w in weights],
                         [b.float() for b in biases],
                         mean=torch.from_numpy(mean).float(),
                         std=torch.from_numpy(std).float()).eval()


@torch.no_grad()
def predict_probabilities(model: nn.Module, x: FloatArray) -> FloatArray:
    result: FloatArray = model(torch.from_numpy(x)).numpy()
    return result
