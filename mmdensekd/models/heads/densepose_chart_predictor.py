# Copyright (c) mmdensekd contributors. All rights reserved.
"""The DensePose chart predictor: coarse/fine segmentation and U, V charts."""
from typing import Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdensekd.registry import MODELS
from mmdensekd.structures import NUM_COARSE_PARTS, NUM_FINE_PARTS, DensePoseChartPredictorOutput


@MODELS.register_module()
class DensePoseChartPredictor(BaseModule):
    """Four ``ConvTranspose2d(k=4, s=2, p=1)`` layers (coarse segmentation,
    fine segmentation, U, V) followed by a bilinear ``x up_scale``.

    With the default 28x28 RoI features the outputs are 112x112; the
    "legacy" recipe (14x14 pooler, ``num_coarse_segm_channels=15``) gives
    56x56.

    Shape legend: ``M`` RoIs, ``S`` the input size, ``C`` coarse channels.

    Args:
        in_channels (int): Channels of the head features. Defaults to 512.
        num_coarse_segm_channels (int): 2 (foreground / background) or 15
            (background + 14 coarse parts, legacy). Defaults to 2.
        num_fine_parts (int): Fine parts without background. Defaults to 24.
        up_scale (int): Bilinear upsampling after the deconvolutions.
            Defaults to 2.
        init_cfg (dict, optional): Defaults to Kaiming normal (fan-out)
            weights and zero biases, as detectron2.
    """

    def __init__(self,
                 in_channels: int = 512,
                 num_coarse_segm_channels: int = 2,
                 num_fine_parts: int = NUM_FINE_PARTS,
                 up_scale: int = 2,
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='ConvTranspose2d', mode='fan_out',
                     nonlinearity='relu', distribution='normal', bias=0)) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_coarse_segm_channels not in (2, NUM_COARSE_PARTS + 1):
            raise ValueError('num_coarse_segm_channels must be 2 or '
                             f'{NUM_COARSE_PARTS + 1}, got {num_coarse_segm_channels}')
        if up_scale < 1:
            raise ValueError(f'up_scale must be >= 1, got {up_scale}')
        self.num_coarse_segm_channels = num_coarse_segm_channels
        self.up_scale = up_scale
        n = num_fine_parts + 1

        def deconv(out_channels: int) -> nn.ConvTranspose2d:
            return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)

        self.coarse_segm_lowres = deconv(num_coarse_segm_channels)
        self.fine_segm_lowres = deconv(n)
        self.u_lowres = deconv(n)
        self.v_lowres = deconv(n)

    def _upsample(self, x: Tensor) -> Tensor:
        if self.up_scale == 1:
            return x
        return F.interpolate(x, scale_factor=self.up_scale, mode='bilinear', align_corners=False)

    def forward(self, x: Tensor) -> DensePoseChartPredictorOutput:
        """(M, in_channels, S, S) -> charts of size (4 S, 4 S) by default."""
        return DensePoseChartPredictorOutput(
            coarse_segm=self._upsample(self.coarse_segm_lowres(x)),
            fine_segm=self._upsample(self.fine_segm_lowres(x)),
            u=self._upsample(self.u_lowres(x)),
            v=self._upsample(self.v_lowres(x)))
