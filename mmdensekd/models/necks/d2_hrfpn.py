# Copyright (c) mmdensekd contributors. All rights reserved.
"""detectron2 DensePose's HRFPN neck (``densepose/modeling/hrfpn.py``).

It differs from mmdet's ``HRFPN`` (bilinear upsampling, one 1x1 reduction
conv, then pooling): every HRNet branch is upsampled to stride 4 by a
learned transposed conv, and every output level is made from the
concatenation by its own strided conv.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdensekd.registry import MODELS


@MODELS.register_module()
class D2HRFPN(BaseModule):
    """High-resolution feature pyramid in detectron2 DensePose's layout.

    Computation (branch ``i`` of the ``N`` HRNet inputs has stride ``4 *
    2^i``; output level ``k`` of ``num_outs`` has stride ``4 * 2^k``):

    1. ``interp_conv[i]``: ``ConvTranspose2d(C_i, C_i, kernel 4, stride
       2^i, padding 0, no bias)``, norm, ReLU: branch ``i`` (``h_i`` rows)
       becomes ``(h_i - 1) 2^i + 4`` rows at stride 4 (for ``i = 3`` the
       stride 8 exceeds the kernel: every other 4-row band is empty before
       the norm);
    2. all upsampled branches are cropped to the smallest height / width
       (top-left kept) and concatenated (``sum(C_i)`` channels);
    3. ``reduction_pooling_conv[k]``: ``Conv2d(sum(C_i), out_channels,
       kernel 2^k, stride 2^k, bias)``, norm, ReLU;
    4. level ``k`` is cropped to ``2^(num_outs - 1 - k)`` times the size of
       the coarsest level (so each level is exactly twice the next);
    5. ``fpn_conv[k]``: ``Conv2d(out_channels, out_channels, 3, padding 1,
       bias)``, no norm or activation.

    Parameter names equal detectron2's (``backbone.interp_conv.{i}.{0,1}``,
    ``backbone.reduction_pooling_conv.{k}.{0,1}``, ``backbone.fpn_conv.{k}``
    -> ``neck.*``). detectron2 builds it with ``share_conv=False`` and
    ``n_out_features = len(ROI_HEADS.IN_FEATURES)`` (5: p1..p5, strides 4 to
    64); its ``pooling`` argument is unused by its forward and omitted here.

    Shape legend: ``B`` images; ``h, w`` the stride-4 size of the first
    input.

    Args:
        in_channels (Sequence[int]): Channels of the HRNet branches
            (``STAGE4.NUM_CHANNELS``). Defaults to (32, 64, 128, 256).
        out_channels (int): Channels of every output level
            (``HRFPN.OUT_CHANNELS``). Defaults to 256.
        num_outs (int): Output levels. Defaults to 5.
        norm_cfg (dict): Norm after the transposed and the reduction convs
            (detectron2: ``nn.BatchNorm2d``, momentum 0.1). Defaults to
            ``dict(type='BN', momentum=0.1)``.
        init_cfg (dict | list[dict], optional): Initialisation config;
            None keeps PyTorch's defaults, as detectron2 does. Defaults to
            None.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (32, 64, 128, 256),
                 out_channels: int = 256,
                 num_outs: int = 5,
                 norm_cfg: dict = dict(type='BN', momentum=0.1),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = [int(c) for c in in_channels]
        if not in_channels:
            raise ValueError('D2HRFPN: in_channels must name at least one branch')
        if num_outs < 1:
            raise ValueError(f'D2HRFPN: num_outs must be >= 1, got {num_outs}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.interp_conv = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(c, c, kernel_size=4, stride=2**i, padding=0, bias=False),
                build_norm_layer(norm_cfg, c)[1], nn.ReLU(inplace=True))
            for i, c in enumerate(in_channels))
        self.reduction_pooling_conv = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(sum(in_channels), out_channels, kernel_size=2**k, stride=2**k),
                build_norm_layer(norm_cfg, out_channels)[1], nn.ReLU(inplace=True))
            for k in range(num_outs))
        self.fpn_conv = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
            for _ in range(num_outs))

    @property
    def strides(self) -> Tuple[int, ...]:
        """Stride of each output level."""
        return tuple(4 * 2**k for k in range(self.num_outs))

    def forward(self, inputs: Union[Tuple[Tensor, ...], List[Tensor]]) -> Tuple[Tensor, ...]:
        """Build the pyramid.

        Args:
            inputs (tuple[Tensor]): HRNet branch ``i``: ``(B, in_channels[i],
                H_i, W_i)`` at stride ``4 * 2^i``.

        Returns:
            tuple[Tensor]: ``num_outs`` maps ``(B, out_channels, h_k, w_k)``
            with ``h_k = 2^(num_outs - 1 - k) h_last``.

        Raises:
            ValueError: Not one input per entry of ``in_channels``, or an
                input too small for the coarsest level.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'D2HRFPN expects {len(self.in_channels)} HRNet branches, got '
                             f'{len(inputs)}')
        upsampled = [layer(x) for layer, x in zip(self.interp_conv, inputs)]
        height = min(u.shape[-2] for u in upsampled)
        width = min(u.shape[-1] for u in upsampled)
        coarsest = 2**(self.num_outs - 1)
        if height < coarsest or width < coarsest:
            raise ValueError(f'D2HRFPN: the stride-4 map is {height}x{width}, smaller than the '
                             f'{coarsest}x{coarsest} kernel of level {self.num_outs - 1}; the '
                             'input image is too small')
        fused = torch.cat([u[..., :height, :width] for u in upsampled], dim=1)
        levels = [layer(fused) for layer in self.reduction_pooling_conv]
        last_h, last_w = levels[-1].shape[-2:]
        outs = []
        for k, (conv, level) in enumerate(zip(self.fpn_conv, levels)):
            scale = 2**(self.num_outs - 1 - k)
            outs.append(conv(level[..., :last_h * scale, :last_w * scale]))
        return tuple(outs)
