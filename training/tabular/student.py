"""The tabular student: a small MLP on the preprocessed features, trained on soft or hard
targets, and the module that gets exported (after the preprocessing graph)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from training.fit import FitSettings, fit_classifier, fit_regressor
from training.tabular.config import TabularConfig

FloatArray = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]
LabelArray = npt.NDArray[np.int64]


def build_mlp(n_features: int, hidden: tuple[int, ...], n_outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _settings(config: TabularConfig) -> FitSettings:
    return FitSettings(epochs=config.epochs, batch_size=config.batch_size,
                       learning_rate=config.learning_rate, weight_decay=config.weight_decay,
                       temperature=config.temperature,
                       distill_weight=config.distillation_weight)


def train_student(x: FloatArray, y: LabelArray, soft_logits: FloatArray | None, *,
                  config: TabularConfig, seed: int, label: str,
                  classes: int | None = None) -> nn.Sequential:
    """An MLP classifier on preprocessed ``x``: distilled from ``soft_logits``, or on labels.

    Both kinds start from the same weights and see the same batches in the same order for a
    given seed, so the only difference between them is the target.
    """
    torch.manual_seed(seed)
    model = build_mlp(x.shape[1], config.hidden, classes or int(y.max()) + 1)
    fit_classifier(model, x, y, _settings(config), seed=seed, label=label,
                   teacher_logits=soft_logits)
    return model


def train_regression_student(x: FloatArray, y: FloatArray, teacher: FloatArray | None, *,
                             config: TabularConfig, seed: int, label: str) -> nn.Sequential:
    """An MLP with one output on preprocessed ``x`` for standardised targets ``y`` (N, 1)."""
    torch.manual_seed(seed)
    model = build_mlp(x.shape[1], config.hidden, 1)
    fit_regressor(model, x, y, _settings(config), seed=seed, label=label,
                  teacher_values=teacher)
    return model


def fold_input_affine(weight: torch.Tensor, bias: torch.Tensor, scale: Float64Array,
                      offset: Float64Array) -> tuple[torch.Tensor, torch.Tensor]:
    """The first layer ``x @ W + b`` taking ``x`` before ``x * scale + offset`` (per feature).

    (x * a + c) @ W + b = x @ (a[:, None] * W) + (c @ W + b): in float64, rounded once when
    the module is built, so the graph needs no operator and no constant for the step.
    """
    a = torch.from_numpy(np.asarray(scale, dtype=np.float64))
    c = torch.from_numpy(np.asarray(offset, dtype=np.float64))
    if a.shape != (weight.shape[0],) or c.shape != a.shape:
        raise ValueError(f"an affine step over {tuple(a.shape)} features cannot feed a layer "
                         f"taking {weight.shape[0]}")
    return weight.double() * a.unsqueeze(1), bias.double() + c @ weight.double()


class ServedStudent(nn.Module):
    """The exported MLP: ``softmax(mlp(x))`` for a classifier, ``mlp(x) * scale + offset``
    (back to the target's units) for regression. With ``input_affine=(a, c)`` it takes the
    features before a per-feature ``x * a + c`` (the standardisation), folded into the first
    layer.

    Layers are written ``x @ W + b`` (ONNX MatMul + Add) rather than ``nn.Linear`` (Gemm):
    onnxruntime's dynamic int8 quantizer rewrites MatMul and leaves Gemm alone.
    """

    def __init__(self, model: nn.Sequential, *, regression: bool = False,
                 scale: float = 1.0, offset: float = 0.0,
                 input_affine: tuple[Float64Array, Float64Array] | None = None) -> None:
        super().__init__()
        linears = [m for m in model if isinstance(m, nn.Linear)]
        weights = [lin.weight.detach().double().T.clone() for lin in linears]
        biases = [lin.bias.detach().double().clone() for lin in linears]
        if regression:  # fold the target's de-standardisation into the last layer
            weights[-1] = weights[-1] * scale
            biases[-1] = biases[-1] * scale + offset
        if input_affine is not None:  # ... and a per-feature affine step into the first
            weights[0], biases[0] = fold_input_affine(weights[0], biases[0], *input_affine)
        self.weights = nn.ParameterList(
            nn.Parameter(w.float().contiguous(), requires_grad=False) for w in weights)
        self.biases = nn.ParameterList(
            nn.Parameter(b.float(), requires_grad=False) for b in biases)
        self.regression = regression

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.matmul(x, weight) + bias
            if i < last:
                x = torch.relu(x)
        return x if self.regression else torch.softmax(x, dim=1)


@torch.no_grad()
def predict(model: nn.Module, x: FloatArray) -> FloatArray:
    result: FloatArray = model(torch.from_numpy(x)).numpy()
    return result
