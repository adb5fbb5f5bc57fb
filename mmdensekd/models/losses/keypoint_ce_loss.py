# Copyright (c) mmdensekd contributors. All rights reserved.
"""The Keypoint R-CNN loss: spatial-softmax cross-entropy of RoI heatmaps.

Each keypoint's ``H x W`` heatmap logits are one softmax over the cells and
the target is the cell of the ground-truth keypoint (He et al., "Mask R-CNN",
2017); the loss is averaged over the visible keypoints of all RoIs.

Shape legend: ``M`` RoIs, ``K`` keypoints, ``H x W`` heatmap cells.
"""
import torch.nn.functional as F
from torch import Tensor, nn

from mmdensekd.registry import MODELS


@MODELS.register_module()
class KeypointCELoss(nn.Module):
    """Spatial-softmax cross-entropy averaged over visible keypoints.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'`loss_weight` must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)

    def forward(self, heatmaps: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
        """The weighted loss.

        Args:
            heatmaps (Tensor): ``(M, K, H, W)`` logits.
            labels (Tensor): ``(M, K)`` target cell indices in ``[0, H*W)``.
            weights (Tensor): ``(M, K)`` target weights (0 = no target).

        Returns:
            Tensor: ``()`` loss; zero (still in the graph, so distributed
            training does not wait for missing gradients) without targets.
        """
        if heatmaps.shape[:2] != labels.shape or labels.shape != weights.shape:
            raise ValueError(f'KeypointCELoss: heatmaps {tuple(heatmaps.shape)}, labels '
                             f'{tuple(labels.shape)} and weights {tuple(weights.shape)} '
                             'disagree on (M, K)')
        valid = weights > 0
        if heatmaps.shape[0] == 0 or not bool(valid.any()):
            return heatmaps.sum() * 0
        logits = heatmaps.flatten(2)[valid]  # (V, H*W)
        loss = F.cross_entropy(logits, labels[valid], reduction='sum') / valid.sum()
        return loss * self.loss_weight
