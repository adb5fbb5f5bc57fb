# Copyright (c) mmdensekd contributors. All rights reserved.
"""Raw output of the DensePose chart predictor."""
from dataclasses import dataclass, fields
from typing import Optional, Union

from torch import Tensor

#: Confidence fields of :class:`DensePoseChartPredictorOutput` (detectron2's
#: names), in the order detectron2's results list them.
CHART_CONFIDENCE_NAMES = ('sigma_1', 'sigma_2', 'kappa_u', 'kappa_v', 'fine_segm_confidence',
                          'coarse_segm_confidence')


@dataclass
class DensePoseChartPredictorOutput:
    """Logits and charts predicted for ``N`` RoIs.

    Shape legend: ``N`` RoIs, ``C`` coarse channels (2, or 15 in the legacy
    variant), ``H x W`` the predictor resolution (112, or 56 legacy).

    The confidence fields are None unless the predictor estimates them
    (detectron2's ``WC1`` / ``WC2`` / ``M`` models, Neverova et al. 2019):

    Attributes:
        coarse_segm (Tensor): (N, C, H, W) coarse segmentation logits (with
            segmentation confidences: already multiplied by
            ``coarse_segm_confidence``, as detectron2 does).
        fine_segm (Tensor): (N, 25, H, W) fine part logits (0 = background;
            with segmentation confidences multiplied by
            ``fine_segm_confidence``).
        u (Tensor): (N, 25, H, W) U coordinate per part.
        v (Tensor): (N, 25, H, W) V coordinate per part.
        sigma_1 (Tensor, optional): unused by the chart models (detectron2
            keeps the field); None.
        sigma_2 (Tensor, optional): (N, 25, H, W) raw U/V variance estimate;
            the variance is ``softplus(sigma_2) + uv_confidence_epsilon``.
        kappa_u, kappa_v (Tensor, optional): (N, 25, H, W) the anisotropic
            direction ``r = (kappa_u, kappa_v)`` (``indep_aniso`` only).
        fine_segm_confidence, coarse_segm_confidence (Tensor, optional):
            (N, 1, H, W) ``softplus(raw) + segm_confidence_epsilon``.
    """
    coarse_segm: Tensor
    fine_segm: Tensor
    u: Tensor
    v: Tensor
    sigma_1: Optional[Tensor] = None
    sigma_2: Optional[Tensor] = None
    kappa_u: Optional[Tensor] = None
    kappa_v: Optional[Tensor] = None
    fine_segm_confidence: Optional[Tensor] = None
    coarse_segm_confidence: Optional[Tensor] = None

    def __len__(self) -> int:
        return self.coarse_segm.size(0)

    def confidences(self) -> dict:
        """The confidence fields that are set, ``{name: Tensor}``."""
        return {name: getattr(self, name) for name in CHART_CONFIDENCE_NAMES
                if getattr(self, name) is not None}

    def __getitem__(self, item: Union[int, slice, Tensor]) -> 'DensePoseChartPredictorOutput':
        if isinstance(item, int):
            item = slice(item, item + 1)
        return DensePoseChartPredictorOutput(
            **{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[item]
               for f in fields(self)})

    def to(self, *args, **kwargs) -> 'DensePoseChartPredictorOutput':
        return DensePoseChartPredictorOutput(
            **{f.name: None if getattr(self, f.name) is None else
               getattr(self, f.name).to(*args, **kwargs) for f in fields(self)})
