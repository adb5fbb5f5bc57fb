# Copyright (c) mmdensekd contributors. All rights reserved.
"""KL distillation loss on DensePose part logits."""
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseChartPredictorOutput

ChartOrLogits = Union[DensePoseChartPredictorOutput, Tensor]


def spatial_kl_div(student_logits: Tensor, teacher_logits: Tensor, temperature: float,
                   dim: int = 1) -> Tensor:
    """Per-position KL(teacher || student) of tempered softmaxes along ``dim``.

    Args:
        student_logits (Tensor): Student logits, any shape.
        teacher_logits (Tensor): Teacher logits, same shape.
        temperature (float): Softmax temperature ``T``.
        dim (int): The class dimension. Defaults to 1.

    Returns:
        Tensor: KL divergence summed over ``dim`` (the other dimensions kept),
        multiplied by ``T**2`` so gradients keep their scale across ``T``.
    """
    log_p_s = F.log_softmax(student_logits / temperature, dim=dim)
    log_p_t = F.log_softmax(teacher_logits.detach().to(student_logits.dtype) / temperature,
                            dim=dim)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=dim)
    return kl * temperature**2


@MODELS.register_module()
class DensePoseKLLoss(nn.Module):
    """KL divergence between the teacher's and the student's DensePose part
    distributions, averaged over RoIs and pixels.

    Shape legend: ``M`` RoIs, ``H x W`` predictor resolution.

    Args:
        temperature (float): Softmax temperature. Defaults to 1.0.
        with_coarse (bool): Also distil the coarse segmentation logits (the
            mean of the two terms is returned). Defaults to False.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 with_coarse: bool = False,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.with_coarse = with_coarse
        self.loss_weight = float(loss_weight)

    def _kl(self, s: Tensor, t: Tensor, name: str) -> Tensor:
        if s.shape != t.shape:
            raise ValueError(f'DensePoseKLLoss: student {name} shape {tuple(s.shape)} != '
                             f'teacher shape {tuple(t.shape)}')
        if s.numel() == 0:
            # no RoI: a zero that stays in the graph
            return s.sum() * 0
        return spatial_kl_div(s, t, self.temperature, dim=1).mean()

    def forward(self, student: ChartOrLogits, teacher: ChartOrLogits) -> Tensor:
        """Compute the loss.

        Args:
            student (DensePoseChartPredictorOutput | Tensor): Student chart
                output, or fine-part logits (M, 25, H, W).
            teacher (DensePoseChartPredictorOutput | Tensor): Teacher chart
                output or logits of the same shape.

        Returns:
            Tensor: Scalar loss.
        """
        if isinstance(student, DensePoseChartPredictorOutput):
            if not isinstance(teacher, DensePoseChartPredictorOutput):
                raise TypeError('DensePoseKLLoss: teacher must be a chart output like the student')
            loss = self._kl(student.fine_segm, teacher.fine_segm, 'fine_segm')
            if self.with_coarse:
                loss = 0.5 * (loss + self._kl(student.coarse_segm, teacher.coarse_segm,
                                              'coarse_segm'))
        else:
            if self.with_coarse:
                raise TypeError('DensePoseKLLoss(with_coarse=True) needs chart outputs')
            loss = self._kl(student, torch.as_tensor(teacher), 'logits')
        return self.loss_weight * loss
