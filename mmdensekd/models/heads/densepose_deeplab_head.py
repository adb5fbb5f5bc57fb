# Copyright (c) mmdensekd contributors. All rights reserved.
"""The DeepLabV3 DensePose RoI feature head (detectron2's
``DensePoseDeepLabHead``, the ``_DL_`` model-zoo configs)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdensekd.registry import MODELS


class ConvNorm(nn.Conv2d):
    """A conv followed by an optional ``norm`` sub-module (detectron2's
    ``Conv2d(norm=...)`` layout: parameters ``weight[, bias]`` and
    ``norm.*``). No activation."""

    def __init__(self, *args, norm: Optional[nn.Module] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.norm = norm

    def forward(self, x: Tensor) -> Tensor:
        x = super().forward(x)
        return x if self.norm is None else self.norm(x)


class ASPPPooling(nn.Sequential):
    """Image-level branch of ASPP: global average, 1x1 conv, GN, ReLU,
    bilinear back to the input size."""

    def __init__(self, in_channels: int, out_channels: int, num_groups: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1,
                                                            bias=False),
                         nn.GroupNorm(num_groups, out_channels), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        return F.interpolate(super().forward(x), size=size, mode='bilinear',
                             align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (Chen et al. 2017, DeepLabV3).

    ``convs.0``: 1x1 conv + GN + ReLU; ``convs.1..3``: 3x3 convs dilated by
    ``atrous_rates`` + GN + ReLU; ``convs.4``: :class:`ASPPPooling`;
    ``project``: 1x1 conv of the concatenation + ReLU (no norm, as
    detectron2). Convs have no bias.
    """

    def __init__(self, in_channels: int, atrous_rates: Sequence[int], out_channels: int,
                 num_groups: int = 32) -> None:
        super().__init__()
        branches = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                  nn.GroupNorm(num_groups, out_channels), nn.ReLU())]
        for rate in atrous_rates:
            branches.append(nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 3, padding=rate, dilation=rate,
                          bias=False), nn.GroupNorm(num_groups, out_channels), nn.ReLU()))
        branches.append(ASPPPooling(in_channels, out_channels, num_groups))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class NonLocalBlock2D(nn.Module):
    """Embedded-Gaussian non-local block (Wang et al. 2018) with
    sub-sampling (2x2 max pooling of ``g`` and ``phi``) and a GN after the
    output conv ``W`` whose affine parameters start at zero (the block
    starts as the identity): ``z = W(softmax(theta^T phi) g) + x``.

    Layout as detectron2: ``g.0``, ``theta``, ``phi.0``, ``W.0`` (1x1 convs
    with bias), ``W.1`` (GN).
    """

    def __init__(self, in_channels: int, inter_channels: Optional[int] = None,
                 num_groups: int = 32) -> None:
        super().__init__()
        self.inter_channels = inter_channels or max(in_channels // 2, 1)
        c = self.inter_channels
        self.g = nn.Sequential(nn.Conv2d(in_channels, c, 1), nn.MaxPool2d(2))
        self.theta = nn.Conv2d(in_channels, c, 1)
        self.phi = nn.Sequential(nn.Conv2d(in_channels, c, 1), nn.MaxPool2d(2))
        self.W = nn.Sequential(nn.Conv2d(c, in_channels, 1),
                               nn.GroupNorm(num_groups, in_channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def forward(self, x: Tensor) -> Tensor:
        n = x.size(0)
        g = self.g(x).flatten(2).transpose(1, 2)  # (n, h'w', c)
        theta = self.theta(x).flatten(2).transpose(1, 2)  # (n, hw, c)
        phi = self.phi(x).flatten(2)  # (n, c, h'w')
        y = torch.softmax(theta @ phi, dim=-1) @ g  # (n, hw, c)
        y = y.transpose(1, 2).reshape(n, self.inter_channels, *x.shape[2:])
        return self.W(y) + x


@MODELS.register_module()
class DensePoseDeepLabHead(BaseModule):
    """DeepLabV3 DensePose head: ASPP (rates 6, 12, 56, output channels =
    input channels), an optional non-local block, then ``num_convs`` convs
    (``conv_channels``, ``kernel_size``) each followed by a ReLU; with
    ``norm='GN'`` (detectron2's ``DEEPLAB.NORM`` default) the convs have no
    bias and a ``GroupNorm(32)`` named ``norm``.

    Parameter names follow detectron2 (``ASPP.*``, ``NLBlock.*``,
    ``body_conv_fcn{i}[.norm]``), so converted checkpoints map one to one.
    The body convs start with ``c2_msra_fill`` (Kaiming normal, fan-out);
    ASPP and the non-local block with PyTorch's defaults, as detectron2.

    Shape legend: ``M`` RoIs, ``S`` the pooled RoI size (28).

    Args:
        in_channels (int): Channels of the pooled RoI features. Defaults to
            256.
        num_convs (int): ``NUM_STACKED_CONVS``. Defaults to 8.
        conv_channels (int): ``CONV_HEAD_DIM``. Defaults to 512.
        kernel_size (int): ``CONV_HEAD_KERNEL``. Defaults to 3.
        norm (str, optional): ``'GN'`` or None. Defaults to ``'GN'``.
        use_nonlocal (bool): ``DEEPLAB.NONLOCAL_ON``. Defaults to False.
        atrous_rates (Sequence[int]): Defaults to (6, 12, 56).
        init_cfg (dict, optional): Defaults to None (see above).
    """

    def __init__(self,
                 in_channels: int = 256,
                 num_convs: int = 8,
                 conv_channels: int = 512,
                 kernel_size: int = 3,
                 norm: Optional[str] = 'GN',
                 use_nonlocal: bool = False,
                 atrous_rates: Sequence[int] = (6, 12, 56),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if norm not in (None, '', 'GN'):
            raise ValueError(f"norm must be 'GN' or None, got {norm!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        if len(atrous_rates) != 3:
            raise ValueError(f'atrous_rates must have 3 entries, got {list(atrous_rates)}')
        self.num_convs = num_convs
        self.use_nonlocal = bool(use_nonlocal)
        self.ASPP = ASPP(in_channels, atrous_rates, in_channels)
        if self.use_nonlocal:
            self.NLBlock = NonLocalBlock2D(in_channels)
        channels = in_channels
        for i in range(num_convs):
            conv = ConvNorm(channels, conv_channels, kernel_size, padding=kernel_size // 2,
                            bias=not norm,
                            norm=nn.GroupNorm(32, conv_channels) if norm else None)
            nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
            self.add_module(f'body_conv_fcn{i + 1}', conv)
            channels = conv_channels
        self.out_channels = conv_channels

    def forward(self, x: Tensor) -> Tensor:
        """(M, in_channels, S, S) -> (M, conv_channels, S, S)."""
        x = self.ASPP(x)
        if self.use_nonlocal:
            x = self.NLBlock(x)
        for i in range(self.num_convs):
            x = F.relu(getattr(self, f'body_conv_fcn{i + 1}')(x))
        return x
