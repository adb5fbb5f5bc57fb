# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose chart results of detected instances."""
from typing import List, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .indexing import IndexType, instance_indices


class DensePoseChartResults:
    """Per-instance DensePose charts at the size of each detected box.

    It lives in ``pred_instances.densepose`` next to ``bboxes`` (xyxy, image
    frame) and follows ``InstanceData`` indexing.

    The chart of box ``(x0, y0, x1, y1)`` covers ``h = max(int(y1 - y0), 1)``
    rows and ``w = max(int(x1 - x0), 1)`` columns starting at
    ``(int(x0), int(y0))`` (the DensePose results convention).

    Args:
        labels (list[Tensor]): per instance (h, w) uint8 fine part label in
            0..24 (0 = background).
        uv (list[Tensor]): per instance (2, h, w) float U, V in [0, 1].
    """

    def __init__(self, labels: List[Tensor], uv: List[Tensor]) -> None:
        if len(labels) != len(uv):
            raise ValueError(f'{len(labels)} label maps for {len(uv)} uv maps')
        self.labels = list(labels)
        self.uv = list(uv)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, item: IndexType) -> 'DensePoseChartResults':
        idx = instance_indices(item, len(self))
        return DensePoseChartResults([self.labels[i] for i in idx], [self.uv[i] for i in idx])

    @staticmethod
    def cat(results: Sequence['DensePoseChartResults']) -> 'DensePoseChartResults':
        return DensePoseChartResults([lb for r in results for lb in r.labels],
                                     [uv for r in results for uv in r.uv])

    def to(self, *args, **kwargs) -> 'DensePoseChartResults':
        return DensePoseChartResults([lb.to(*args, **kwargs) for lb in self.labels],
                                     [uv.to(*args, **kwargs) for uv in self.uv])

    def cpu(self) -> 'DensePoseChartResults':
        return self.to('cpu')

    def iuv(self, index: int) -> np.ndarray:
        """Instance ``index`` as a (3, h, w) uint8 IUV array (the results
        format): I in 0..24, U and V scaled to 0..255."""
        labels = self.labels[index].cpu()
        uv = (self.uv[index].cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        return torch.cat([labels[None].to(torch.uint8), uv]).numpy()

    def __repr__(self) -> str:
        shapes: List[Tuple[int, ...]] = [tuple(lb.shape) for lb in self.labels]
        return f'DensePoseChartResults(num_instances={len(self)}, shapes={shapes})'
