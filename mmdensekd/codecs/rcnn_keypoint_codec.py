# Copyright (c) mmdensekd contributors. All rights reserved.
"""mmpose-registered face of the Keypoint R-CNN coder.

The RoI head uses :class:`~mmdensekd.models.task_modules.RCNNKeypointCoder`
(mmdet ``TASK_UTILS``, torch in / torch out). This thin codec exposes the
same encoding and decoding under mmpose's codec registry and call
convention (``encode`` returns a dict, ``rois`` is an auxiliary encode key),
for mmpose-side code that builds codecs by name.

Shape legend: ``M`` RoIs, ``K`` keypoints, ``H x W`` the heatmap grid.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmpose.codecs.base import BaseKeypointCodec
from torch import Tensor

from mmdensekd.models.task_modules import RCNNKeypointCoder
from mmdensekd.registry import KEYPOINT_CODECS

ArrayLike = Union[Tensor, np.ndarray, Sequence]


@KEYPOINT_CODECS.register_module()
class RCNNKeypointCodec(BaseKeypointCodec):
    """Keypoint R-CNN cell-index targets and RoI heatmap decoding.

    Args:
        **kwargs: The arguments of :class:`RCNNKeypointCoder`
            (``heatmap_size``, ``use_dark``, ``use_udp``, ``blur_kernel_size``,
            ``resize_mode``, ``max_resize_elements``).
    """

    auxiliary_encode_keys = {'rois'}

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.coder = RCNNKeypointCoder(**kwargs)
        self.heatmap_size = self.coder.heatmap_size
        self.use_dark = self.coder.use_dark
        self.use_udp = self.coder.use_udp

    def encode(self,
               keypoints: ArrayLike,
               keypoints_visible: Optional[ArrayLike] = None,
               rois: Optional[ArrayLike] = None) -> dict:
        """Encode keypoints into cell indices of each RoI's grid.

        Args:
            keypoints (Tensor | np.ndarray): ``(M, K, 2)`` keypoints in the
                frame of the RoIs.
            keypoints_visible (Tensor | np.ndarray, optional): ``(M, K)``
                visibility (``> 0`` = labelled); ``None`` means all visible.
            rois (Tensor | np.ndarray): ``(M, 4)`` xyxy RoIs.

        Returns:
            dict: ``keypoint_labels`` ``(M, K)`` long and
            ``keypoint_weights`` ``(M, K)`` float (see
            :meth:`RCNNKeypointCoder.encode`).
        """
        if rois is None:
            raise ValueError('`rois` is required to encode Keypoint R-CNN targets')
        keypoints = torch.as_tensor(keypoints)
        if keypoints.dim() != 3:
            raise ValueError(f'`keypoints` must be (M, K, 2), got {tuple(keypoints.shape)}')
        if keypoints_visible is None:
            visible = torch.ones(keypoints.shape[:2])
        else:
            visible = torch.as_tensor(keypoints_visible)
            if tuple(visible.shape) != tuple(keypoints.shape[:2]):
                raise ValueError('`keypoints_visible` must have shape '
                                 f'{tuple(keypoints.shape[:2])}, got {tuple(visible.shape)}')
        labels, weights = self.coder.encode(keypoints, visible, torch.as_tensor(rois))
        return dict(keypoint_labels=labels, keypoint_weights=weights)

    def decode(self, encoded: ArrayLike,
               bboxes: Optional[ArrayLike] = None) -> Tuple[Tensor, Tensor]:
        """Decode ``(M, K, H, W)`` heatmap logits into keypoints ``(M, K, 2)``
        and scores ``(M, K)`` in the frame of ``bboxes`` ``(M, 4)``."""
        if bboxes is None:
            raise ValueError('`bboxes` is required to decode Keypoint R-CNN heatmaps')
        return self.coder.decode(torch.as_tensor(encoded), torch.as_tensor(bboxes))

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.coder!r})'


__all__ = ['RCNNKeypointCodec']
