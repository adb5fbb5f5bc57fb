# Copyright (c) mmdensekd contributors. All rights reserved.
"""U/V regression distillation on the teacher's confident DensePose pixels."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseChartPredictorOutput


@MODELS.register_module()
class DensePoseUVLoss(nn.Module):
    """Regress the student's U/V charts onto the teacher's on pixels where the
    teacher is confident.

    A pixel is selected when the teacher's foreground probability (one minus
    the coarse background probability) exceeds ``fg_thr`` and the
    probability of its arg-max fine part (1..24) exceeds ``part_thr``. At a
    selected pixel both charts are read at that part's channel. With no
    selected pixel the loss is a zero that stays in the student's graph.

    Shape legend: ``M`` RoIs, ``C`` coarse channels, ``H x W`` predictor
    resolution.

    Args:
        fg_thr (float): Foreground probability threshold. Defaults to 0.5.
        part_thr (float): Part probability threshold. Defaults to 0.5.
        loss_type (str): ``'smooth_l1'`` or ``'mse'``. Defaults to
            ``'smooth_l1'``.
        beta (float): Smooth-L1 beta. Defaults to 1.0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 fg_thr: float = 0.5,
                 part_thr: float = 0.5,
                 loss_type: str = 'smooth_l1',
                 beta: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if loss_type not in ('smooth_l1', 'mse'):
            raise ValueError(f"loss_type must be 'smooth_l1' or 'mse', got {loss_type!r}")
        self.fg_thr = float(fg_thr)
        self.part_thr = float(part_thr)
        self.loss_type = loss_type
        self.beta = float(beta)
        self.loss_weight = float(loss_weight)

    @torch.no_grad()
    def select(self, teacher: DensePoseChartPredictorOutput):
        """Teacher-confident pixels and their parts.

        Args:
            teacher (DensePoseChartPredictorOutput): Teacher output with
                coarse_segm (M, C, H, W) and fine_segm (M, 25, H, W).

        Returns:
            tuple[Tensor, Tensor]: ``mask`` (M, H, W) bool of selected pixels
            and ``part`` (M, H, W) long arg-max fine part in 1..24.
        """
        coarse = teacher.coarse_segm.float()
        fine = teacher.fine_segm.float()
        if coarse.shape[-2:] != fine.shape[-2:]:
            coarse = F.interpolate(coarse, size=fine.shape[-2:], mode='bilinear',
                                   align_corners=False)
        fg_prob = 1.0 - coarse.softmax(dim=1)[:, 0]
        part_prob, part = fine.softmax(dim=1)[:, 1:].max(dim=1)
        mask = (fg_prob > self.fg_thr) & (part_prob > self.part_thr)
        return mask, part + 1

    def forward(self, student: DensePoseChartPredictorOutput,
                teacher: DensePoseChartPredictorOutput) -> Tensor:
        """Compute the loss.

        Args:
            student (DensePoseChartPredictorOutput): Student output, u/v
                (M, 25, H, W).
            teacher (DensePoseChartPredictorOutput): Teacher output, same
                shapes.

        Returns:
            Tensor: Scalar loss (U and V terms summed, each averaged over the
            selected pixels).
        """
        if not (isinstance(student, DensePoseChartPredictorOutput)
                and isinstance(teacher, DensePoseChartPredictorOutput)):
            raise TypeError('DensePoseUVLoss needs DensePoseChartPredictorOutput for student '
                            f'and teacher, got {type(student).__name__} and '
                            f'{type(teacher).__name__}')
        if student.u.shape != teacher.u.shape or student.v.shape != teacher.v.shape:
            raise ValueError(f'DensePoseUVLoss: student u/v shape {tuple(student.u.shape)} != '
                             f'teacher shape {tuple(teacher.u.shape)}')
        zero = (student.u.sum() + student.v.sum()) * 0
        if student.u.numel() == 0:
            return zero
        mask, part = self.select(teacher)
        if not bool(mask.any()):
            return zero
        index = part.unsqueeze(1)
        total = zero
        for s_map, t_map in ((student.u, teacher.u), (student.v, teacher.v)):
            s_val = s_map.gather(1, index).squeeze(1)[mask]
            t_val = t_map.detach().to(s_map.dtype).gather(1, index).squeeze(1)[mask]
            if self.loss_type == 'smooth_l1':
                total = total + F.smooth_l1_loss(s_val, t_val, beta=self.beta)
            else:
                total = total + F.mse_loss(s_val, t_val)
        return self.loss_weight * total
