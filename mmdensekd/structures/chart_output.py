# Copyright (c) mmdensekd contributors. All rights reserved.
"""Raw output of the DensePose chart predictor."""
from dataclasses import dataclass, fields
from typing import Union

from torch import Tensor


@dataclass
class DensePoseChartPredictorOutput:
    """Logits and charts predicted for ``N`` RoIs.

    Shape legend: ``N`` RoIs, ``C`` coarse channels (2, or 15 in the legacy
    variant), ``H x W`` the predictor resolution (112, or 56 legacy).

    Attributes:
        coarse_segm (Tensor): (N, C, H, W) coarse segmentation logits.
        fine_segm (Tensor): (N, 25, H, W) fine part logits (0 = background).
        u (Tensor): (N, 25, H, W) U coordinate per part.
        v (Tensor): (N, 25, H, W) V coordinate per part.
    """
    coarse_segm: Tensor
    fine_segm: Tensor
    u: Tensor
    v: Tensor

    def __len__(self) -> int:
        return self.coarse_segm.size(0)

    def __getitem__(self, item: Union[int, slice, Tensor]) -> 'DensePoseChartPredictorOutput':
        if isinstance(item, int):
            item = slice(item, item + 1)
        return DensePoseChartPredictorOutput(
            **{f.name: getattr(self, f.name)[item] for f in fields(self)})

    def to(self, *args, **kwargs) -> 'DensePoseChartPredictorOutput':
        return DensePoseChartPredictorOutput(
            **{f.name: getattr(self, f.name).to(*args, **kwargs) for f in fields(self)})
