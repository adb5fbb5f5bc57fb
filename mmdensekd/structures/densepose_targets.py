# Copyright (c) mmdensekd contributors. All rights reserved.
"""Ground-truth DensePose annotations of the instances of one image."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from .indexing import IndexType, instance_indices


class DensePoseTargets:
    """DensePose annotations of ``N`` instances, stored in their box frame.

    It lives in ``gt_instances.densepose`` and follows every indexing of the
    ``InstanceData`` (it has ``__len__``, ``__getitem__`` and ``cat``).

    Shape legend: ``N`` instances, ``P_i`` points of instance ``i``,
    ``S = 256`` the box-frame size.

    Args:
        points (list[Tensor]): per instance a float tensor (P_i, 5) with
            columns ``x, y, I, U, V``: x, y in the 256x256 box frame
            (``x_img = x0 + x * w / 256``), I the fine part in 1..24 and U, V
            in [0, 1]. An instance without DensePose annotation has P_i = 0.
        segms (Tensor): (N, S, S) uint8 merged coarse segmentation in the box
            frame, value ``i + 1`` where ``dp_masks[i]`` is set, 0 elsewhere.
        has_dp (Tensor): (N,) bool, whether the instance carries DensePose
            points. Instances without annotation are kept (they still train
            the box branch) and are skipped by the DensePose loss.
        has_segm (Tensor, optional): (N,) bool, whether ``segms`` is
            annotated. Defaults to ``has_dp``.
    """

    def __init__(self,
                 points: List[Tensor],
                 segms: Tensor,
                 has_dp: Tensor,
                 has_segm: Optional[Tensor] = None) -> None:
        if not (len(points) == len(segms) == len(has_dp)):
            raise ValueError('DensePoseTargets: points, segms and has_dp must '
                             f'have one entry per instance, got {len(points)}, '
                             f'{len(segms)} and {len(has_dp)}')
        self.points = list(points)
        self.segms = segms
        self.has_dp = has_dp.bool()
        self.has_segm = self.has_dp.clone() if has_segm is None else has_segm.bool()

    @classmethod
    def empty(cls, num: int = 0, size: int = 256) -> 'DensePoseTargets':
        """Targets for ``num`` instances none of which is annotated."""
        return cls([torch.zeros((0, 5)) for _ in range(num)],
                   torch.zeros((num, size, size), dtype=torch.uint8),
                   torch.zeros(num, dtype=torch.bool))

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, item: IndexType) -> 'DensePoseTargets':
        # ``InstanceData`` indexes non-tensor fields with strided slices
        # ``slice(i, None, len(v))`` (one element each) and then ``cat``s them.
        idx = instance_indices(item, len(self))
        index = torch.as_tensor(idx, dtype=torch.long)
        return DensePoseTargets([self.points[i] for i in idx], self.segms[index],
                                self.has_dp[index], self.has_segm[index])

    @staticmethod
    def cat(targets: Sequence['DensePoseTargets']) -> 'DensePoseTargets':
        """Concatenate the instances of several targets."""
        if len(targets) == 0:
            return DensePoseTargets.empty(0)
        points = [p for t in targets for p in t.points]
        return DensePoseTargets(points, torch.cat([t.segms for t in targets]),
                                torch.cat([t.has_dp for t in targets]),
                                torch.cat([t.has_segm for t in targets]))

    def to(self, *args, **kwargs) -> 'DensePoseTargets':
        """Move every tensor (``Tensor.to`` arguments)."""
        return DensePoseTargets([p.to(*args, **kwargs) for p in self.points],
                                self.segms.to(*args, **kwargs),
                                self.has_dp.to(*args, **kwargs),
                                self.has_segm.to(*args, **kwargs))

    def cpu(self) -> 'DensePoseTargets':
        return self.to('cpu')

    def __repr__(self) -> str:
        num_pts = [len(p) for p in self.points]
        return (f'DensePoseTargets(num_instances={len(self)}, '
                f'annotated={int(self.has_dp.sum())}, points={num_pts})')
