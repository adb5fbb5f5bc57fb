# Copyright (c) mmdensekd contributors. All rights reserved.
"""The DensePose RoI feature head (detectron2's ``DensePoseV1ConvXHead``)."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdensekd.registry import MODELS


@MODELS.register_module()
class DensePoseV1ConvXHead(BaseModule):
    """A stack of ``num_convs`` (conv ``kernel_size`` + ReLU) on RoI features.

    Shape legend: ``M`` RoIs, ``S`` the pooled RoI size (28 by default).

    Args:
        in_channels (int): Channels of the pooled RoI features (FPN: 256).
        num_convs (int): Number of conv + ReLU blocks. Defaults to 8.
        conv_channels (int): Output channels of every conv. Defaults to 512.
        kernel_size (int): Conv kernel size (odd). Defaults to 3.
        init_cfg (dict, optional): Initialisation config. Defaults to Kaiming
            normal (fan-out) weights and zero biases, as detectron2.
    """

    def __init__(self,
                 in_channels: int = 256,
                 num_convs: int = 8,
                 conv_channels: int = 512,
                 kernel_size: int = 3,
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='Conv2d', mode='fan_out',
                     nonlinearity='relu', distribution='normal', bias=0)) -> None:
        super().__init__(init_cfg=init_cfg)
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        layers = []
        for i in range(num_convs):
            layers += [
                nn.Conv2d(in_channels if i == 0 else conv_channels, conv_channels,
                          kernel_size, padding=kernel_size // 2),
                nn.ReLU(inplace=True)
            ]
        self.convs = nn.Sequential(*layers)
        self.out_channels = conv_channels

    def forward(self, x: Tensor) -> Tensor:
        """(M, in_channels, S, S) -> (M, conv_channels, S, S)."""
        return self.convs(x)
