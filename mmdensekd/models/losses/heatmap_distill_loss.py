# Copyright (c) mmdensekd contributors. All rights reserved.
"""Keypoint heatmap distillation loss."""
import torch.nn.functional as F
from torch import Tensor, nn

from mmdensekd.registry import MODELS

from .densepose_kl_loss import spatial_kl_div


@MODELS.register_module()
class HeatmapDistillLoss(nn.Module):
    """Distil keypoint heatmap logits.

    ``mode='kl'``: each keypoint's heatmap is a distribution over its
    ``H*W`` positions (spatial softmax with temperature, matching the
    Keypoint R-CNN cross-entropy over 56x56 positions); the loss is
    KL(teacher || student) averaged over RoIs and keypoints.
    ``mode='mse'``: mean squared error of the raw maps.

    Shape legend: ``M`` RoIs, ``K`` keypoints, ``H x W`` heatmap size.

    Args:
        mode (str): ``'kl'`` or ``'mse'``. Defaults to ``'kl'``.
        temperature (float): Softmax temperature for ``'kl'``. Defaults to
            1.0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, mode: str = 'kl', temperature: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in ('kl', 'mse'):
            raise ValueError(f"mode must be 'kl' or 'mse', got {mode!r}")
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.mode = mode
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            student (Tensor): Student heatmap logits (M, K, H, W).
            teacher (Tensor): Teacher heatmap logits (M, K, H, W).

        Returns:
            Tensor: Scalar loss.
        """
        if student.shape != teacher.shape:
            raise ValueError(f'HeatmapDistillLoss: student shape {tuple(student.shape)} != '
                             f'teacher shape {tuple(teacher.shape)}')
        if student.numel() == 0:
            return student.sum() * 0
        if self.mode == 'mse':
            loss = F.mse_loss(student, teacher.detach().to(student.dtype))
        else:
            s = student.flatten(2)
            t = teacher.flatten(2)
            loss = spatial_kl_div(s, t, self.temperature, dim=2).mean()
        return self.loss_weight * loss
