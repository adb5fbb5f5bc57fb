# Copyright (c) mmdensekd contributors. All rights reserved.
"""The DensePose chart predictor: coarse/fine segmentation and U, V charts,
optionally with detectron2's confidence estimates."""
from typing import Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdensekd.registry import MODELS
from mmdensekd.structures import NUM_COARSE_PARTS, NUM_FINE_PARTS, DensePoseChartPredictorOutput

#: U/V confidence models of detectron2 (``UV_CONFIDENCE.TYPE``)
UV_CONFIDENCE_TYPES = ('iid_iso', 'indep_aniso')


def uv_variance(sigma_2: Tensor, epsilon: float = 0.01) -> Tensor:
    """The U/V variance ``softplus(sigma_2) + epsilon`` of a raw ``sigma_2``
    estimate (detectron2's lower-bounded ``sigma^2`` of the iid / indep
    Gaussian U/V losses; ``UV_CONFIDENCE.EPSILON`` 0.01)."""
    return F.softplus(sigma_2) + epsilon


@MODELS.register_module()
class DensePoseChartPredictor(BaseModule):
    """Four ``ConvTranspose2d(k=4, s=2, p=1)`` layers (coarse segmentation,
    fine segmentation, U, V) followed by a bilinear ``x up_scale``.

    With the default 28x28 RoI features the outputs are 112x112; the
    "legacy" recipe (14x14 pooler, ``num_coarse_segm_channels=15``) gives
    56x56.

    Confidences (detectron2's ``DensePoseChartConfidencePredictorMixin``,
    Neverova et al., NeurIPS 2019), each one more deconvolution of the same
    kind, upsampled the same way:

    * ``uv_confidence='iid_iso'`` (``WC1``): ``sigma_2_lowres`` (25 ch.);
      the output ``sigma_2`` is raw, the variance is
      :func:`uv_variance` ``= softplus(sigma_2) + uv_confidence_epsilon``.
    * ``uv_confidence='indep_aniso'`` (``WC2``): also ``kappa_u_lowres`` and
      ``kappa_v_lowres`` (25 ch. each, raw).
    * ``segm_confidence=True`` (the ``M`` variants):
      ``fine_segm_confidence_lowres`` and ``coarse_segm_confidence_lowres``
      (1 ch.); their outputs are ``softplus(raw) + segm_confidence_epsilon``
      and the fine / coarse scores are multiplied by them.

    Shape legend: ``M`` RoIs, ``S`` the input size, ``C`` coarse channels.

    Args:
        in_channels (int): Channels of the head features. Defaults to 512.
        num_coarse_segm_channels (int): 2 (foreground / background) or 15
            (background + 14 coarse parts, legacy). Defaults to 2.
        num_fine_parts (int): Fine parts without background. Defaults to 24.
        up_scale (int): Bilinear upsampling after the deconvolutions.
            Defaults to 2.
        uv_confidence (str, optional): None, ``'iid_iso'`` or
            ``'indep_aniso'``. Defaults to None.
        uv_confidence_epsilon (float): Lower bound of the U/V variance.
            Defaults to 0.01.
        segm_confidence (bool): Estimate segmentation confidences. Defaults
            to False.
        segm_confidence_epsilon (float): Their lower bound. Defaults to 0.01.
        init_cfg (dict, optional): Defaults to Kaiming normal (fan-out)
            weights and zero biases, as detectron2.
    """

    def __init__(self,
                 in_channels: int = 512,
                 num_coarse_segm_channels: int = 2,
                 num_fine_parts: int = NUM_FINE_PARTS,
                 up_scale: int = 2,
                 uv_confidence: Optional[str] = None,
                 uv_confidence_epsilon: float = 0.01,
                 segm_confidence: bool = False,
                 segm_confidence_epsilon: float = 0.01,
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='ConvTranspose2d', mode='fan_out',
                     nonlinearity='relu', distribution='normal', bias=0)) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_coarse_segm_channels not in (2, NUM_COARSE_PARTS + 1):
            raise ValueError('num_coarse_segm_channels must be 2 or '
                             f'{NUM_COARSE_PARTS + 1}, got {num_coarse_segm_channels}')
        if up_scale < 1:
            raise ValueError(f'up_scale must be >= 1, got {up_scale}')
        if uv_confidence is not None and uv_confidence not in UV_CONFIDENCE_TYPES:
            raise ValueError(f'uv_confidence must be None or one of {UV_CONFIDENCE_TYPES}, got '
                             f'{uv_confidence!r}')
        self.num_coarse_segm_channels = num_coarse_segm_channels
        self.up_scale = up_scale
        self.uv_confidence = uv_confidence
        self.uv_confidence_epsilon = float(uv_confidence_epsilon)
        self.segm_confidence = bool(segm_confidence)
        self.segm_confidence_epsilon = float(segm_confidence_epsilon)
        n = num_fine_parts + 1

        def deconv(out_channels: int) -> nn.ConvTranspose2d:
            return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)

        self.coarse_segm_lowres = deconv(num_coarse_segm_channels)
        self.fine_segm_lowres = deconv(n)
        self.u_lowres = deconv(n)
        self.v_lowres = deconv(n)
        if uv_confidence is not None:
            self.sigma_2_lowres = deconv(n)
        if uv_confidence == 'indep_aniso':
            self.kappa_u_lowres = deconv(n)
            self.kappa_v_lowres = deconv(n)
        if self.segm_confidence:
            self.fine_segm_confidence_lowres = deconv(1)
            self.coarse_segm_confidence_lowres = deconv(1)

    def _upsample(self, x: Tensor) -> Tensor:
        if self.up_scale == 1:
            return x
        return F.interpolate(x, scale_factor=self.up_scale, mode='bilinear', align_corners=False)

    def forward(self, x: Tensor) -> DensePoseChartPredictorOutput:
        """(M, in_channels, S, S) -> charts of size (4 S, 4 S) by default."""
        out = DensePoseChartPredictorOutput(
            coarse_segm=self._upsample(self.coarse_segm_lowres(x)),
            fine_segm=self._upsample(self.fine_segm_lowres(x)),
            u=self._upsample(self.u_lowres(x)),
            v=self._upsample(self.v_lowres(x)))
        if self.uv_confidence is not None:
            out.sigma_2 = self._upsample(self.sigma_2_lowres(x))
        if self.uv_confidence == 'indep_aniso':
            out.kappa_u = self._upsample(self.kappa_u_lowres(x))
            out.kappa_v = self._upsample(self.kappa_v_lowres(x))
        if self.segm_confidence:
            eps = self.segm_confidence_epsilon
            out.fine_segm_confidence = (
                F.softplus(self._upsample(self.fine_segm_confidence_lowres(x))) + eps)
            out.coarse_segm_confidence = (
                F.softplus(self._upsample(self.coarse_segm_confidence_lowres(x))) + eps)
            # broadcasting the one channel equals detectron2's repeat_interleave
            out.fine_segm = out.fine_segm * out.fine_segm_confidence
            out.coarse_segm = out.coarse_segm * out.coarse_segm_confidence
        return out

    def uv_variance(self, sigma_2: Tensor) -> Tensor:
        """:func:`uv_variance` with this predictor's lower bound."""
        return uv_variance(sigma_2, self.uv_confidence_epsilon)
