# Copyright (c) mmdensekd contributors. All rights reserved.
"""Feature-map MSE ("transfer") loss for distillation."""
from typing import Sequence, Union

import torch.nn.functional as F
from torch import Tensor, nn

from mmdensekd.registry import MODELS

FeatureMaps = Union[Tensor, Sequence[Tensor]]


@MODELS.register_module()
class FeatureMSELoss(nn.Module):
    """Sum over feature levels of the mean squared error between student and
    teacher feature maps (the paper's transfer loss over FPN P2-P5).

    When a level's spatial size differs, the teacher map is resized to the
    student's size by bilinear interpolation (the teacher is the target, so
    the student's graph is left untouched). Channel counts must match; put a
    connector (1x1 conv) in front of the student when they do not.

    Shape legend: ``B`` batch, ``C`` channels, ``H x W`` map size per level.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        reduction (str): ``'mean'`` (MSE averaged over the elements of each
            level, then summed over levels) or ``'sum'``. Defaults to
            ``'mean'``.
        align_corners (bool): ``align_corners`` of the bilinear resize.
            Defaults to False.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean',
                 align_corners: bool = False) -> None:
        super().__init__()
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.loss_weight = float(loss_weight)
        self.reduction = reduction
        self.align_corners = align_corners

    def forward(self, student: FeatureMaps, teacher: FeatureMaps) -> Tensor:
        """Compute the loss.

        Args:
            student (Tensor | Sequence[Tensor]): Student maps, each
                (B, C, H_s, W_s).
            teacher (Tensor | Sequence[Tensor]): Teacher maps, each
                (B, C, H_t, W_t), one per student level.

        Returns:
            Tensor: Scalar loss.
        """
        if isinstance(student, Tensor):
            student = [student]
        if isinstance(teacher, Tensor):
            teacher = [teacher]
        if len(student) != len(teacher):
            raise ValueError(f'FeatureMSELoss got {len(student)} student levels but '
                             f'{len(teacher)} teacher levels')
        if len(student) == 0:
            raise ValueError('FeatureMSELoss got no feature levels')
        total = student[0].new_zeros(())
        for level, (s, t) in enumerate(zip(student, teacher)):
            if s.dim() != t.dim() or s.shape[:2] != t.shape[:2]:
                raise ValueError(
                    f'FeatureMSELoss level {level}: student shape {tuple(s.shape)} and teacher '
                    f'shape {tuple(t.shape)} differ in batch or channels; add a connector')
            t = t.detach().to(s.dtype)
            if s.shape[2:] != t.shape[2:]:
                t = F.interpolate(
                    t, size=s.shape[2:], mode='bilinear', align_corners=self.align_corners)
            total = total + F.mse_loss(s, t, reduction=self.reduction)
        return self.loss_weight * total
