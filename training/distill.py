"""Knowledge distillation loss (Hinton et al., 2015), shared by the tabular and image students."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float,
    weight: float,
) -> torch.Tensor:
    """``weight`` × soft-target KL at ``temperature`` + (1 - ``weight``) × hard-label CE.

    The KL term is scaled by T² so its gradients keep the same size whatever T is.
    """
    soft_student = F.log_softmax(student_logits / temperature, dim=1)
    soft_teacher = F.softmax(teacher_logits / temperature, dim=1)
    soft = F.kl_div(soft_student, soft_teacher, reduction="batchmean") * temperature**2
    hard = F.cross_entropy(student_logits, labels)
    return weight * soft + (1.0 - weight) * hard
