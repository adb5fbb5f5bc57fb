# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose chart results of detected instances."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .indexing import IndexType, instance_indices

ConfidenceMaps = Dict[str, List[Optional[Tensor]]]


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
        uv (list[Tensor]): per instance (2, h, w) float U, V: as the
            predictor gives them at the part of each pixel (detectron2 does not
            clamp; the default decoding gives U = V = 0 on background), or
            clamped to [0, 1] by the ``'fast'`` decoding.
        confidences (dict[str, list[Tensor | None]], optional): per
            confidence name (detectron2's: ``sigma_2``, ``kappa_u``,
            ``kappa_v``, ``fine_segm_confidence``, ``coarse_segm_confidence``)
            one (h, w) float map per instance, or None for an instance whose
            model estimated no such confidence. ``sigma_2`` holds the U/V
            variance ``softplus(raw) + epsilon`` (detectron2's results keep the
            raw value), ``kappa_*`` the raw anisotropy; per-part maps are read
            at each pixel's part and are 0 on background. Defaults to none.
    """

    def __init__(self, labels: List[Tensor], uv: List[Tensor],
                 confidences: Optional[ConfidenceMaps] = None) -> None:
        if len(labels) != len(uv):
            raise ValueError(f'{len(labels)} label maps for {len(uv)} uv maps')
        self.labels = list(labels)
        self.uv = list(uv)
        self.confidences: ConfidenceMaps = {}
        for name, maps in (confidences or {}).items():
            if len(maps) != len(self.labels):
                raise ValueError(f'confidence {name!r} has {len(maps)} maps for '
                                 f'{len(self.labels)} instances')
            self.confidences[name] = list(maps)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, item: IndexType) -> 'DensePoseChartResults':
        idx = instance_indices(item, len(self))
        return DensePoseChartResults(
            [self.labels[i] for i in idx], [self.uv[i] for i in idx],
            {k: [maps[i] for i in idx] for k, maps in self.confidences.items()})

    @staticmethod
    def cat(results: Sequence['DensePoseChartResults']) -> 'DensePoseChartResults':
        """Concatenate; a confidence some of the results lack is None for
        their instances."""
        names = [n for r in results for n in r.confidences]
        confidences = {
            name: [m for r in results for m in r.confidences.get(name, [None] * len(r))]
            for name in dict.fromkeys(names)
        }
        return DensePoseChartResults([lb for r in results for lb in r.labels],
                                     [uv for r in results for uv in r.uv], confidences)

    def to(self, *args, **kwargs) -> 'DensePoseChartResults':
        return DensePoseChartResults(
            [lb.to(*args, **kwargs) for lb in self.labels],
            [uv.to(*args, **kwargs) for uv in self.uv],
            {k: [None if m is None else m.to(*args, **kwargs) for m in maps]
             for k, maps in self.confidences.items()})

    def cpu(self) -> 'DensePoseChartResults':
        return self.to('cpu')

    def confidence(self, name: str, index: int) -> Optional[Tensor]:
        """The (h, w) map ``name`` of instance ``index``, None if not estimated."""
        maps = self.confidences.get(name)
        return None if maps is None else maps[index]

    def iuv(self, index: int) -> np.ndarray:
        """Instance ``index`` as a (3, h, w) uint8 IUV array (the results
        format): I in 0..24, U and V clamped to [0, 1] and scaled to 0..255."""
        labels = self.labels[index].cpu()
        uv = (self.uv[index].cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        return torch.cat([labels[None].to(torch.uint8), uv]).numpy()

    def __repr__(self) -> str:
        shapes: List[Tuple[int, ...]] = [tuple(lb.shape) for lb in self.labels]
        conf = f', confidences={sorted(self.confidences)}' if self.confidences else ''
        return f'DensePoseChartResults(num_instances={len(self)}, shapes={shapes}{conf})'
