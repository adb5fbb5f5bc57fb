# Copyright (c) mmdensekd contributors. All rights reserved.
"""The DensePose decoder: fuses the FPN levels into one stride-4 map.

detectron2's DensePose R-CNN (every non-legacy config, ``DECODER_ON=True``)
pools its RoIs from a single map made by a Panoptic-FPN-style semantic
decoder instead of from the FPN level chosen by box size.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdensekd.registry import MODELS


@MODELS.register_module()
class DensePoseDecoder(BaseModule):
    """Sum of per-level conv / upsampling stacks, then a 1x1 predictor conv.

    Level ``l`` (stride ``s_l``) goes through ``n_l = max(1, log2(s_l) -
    log2(common_stride))`` blocks of (conv 3x3 + norm + ReLU, then a x2
    bilinear upsampling (``align_corners=False``) unless ``s_l`` already is
    the common stride); the outputs of all levels are summed and a 1x1 conv
    (no activation) gives the fused map. detectron2's s1x defaults:
    ``DECODER_CONV_DIMS=256``, ``DECODER_NUM_CLASSES=256``,
    ``DECODER_NORM=''`` (no norm: the convs have biases),
    ``DECODER_COMMON_STRIDE=4``, inputs P2..P5; weights initialised with
    ``c2_msra_fill`` (Kaiming normal, fan-out, ReLU gain; zero biases).

    Module layout (matches detectron2's parameter names ``p{s}.{j}``, so a
    converted checkpoint maps index for index): ``scale_heads[i]`` is an
    ``nn.Sequential`` with the blocks' ``ConvModule`` at even indices and
    ``nn.Upsample`` at odd ones; ``predictor`` is the 1x1 conv.

    Shape legend: ``B`` images, ``H x W`` the size of the common-stride
    (first) level; level ``l`` must be ``(B, C_l, H s_0 / s_l, W s_0 / s_l)``.

    Args:
        in_channels (int | Sequence[int]): Channels of each input level (one
            int for all). Defaults to 256.
        in_strides (Sequence[int]): Stride of each input level, powers of 2.
            Defaults to (4, 8, 16, 32) (P2..P5).
        conv_channels (int): Channels of the stack convs
            (``DECODER_CONV_DIMS``). Defaults to 256.
        out_channels (int): Channels of the fused map
            (``DECODER_NUM_CLASSES``). Defaults to 256.
        common_stride (int): Stride of the fused map. Defaults to 4.
        norm_cfg (dict, optional): Norm of the stack convs (e.g.
            ``dict(type='GN', num_groups=32)``); None (detectron2's default
            ``''``) means no norm and biased convs. Defaults to None.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to ``c2_msra_fill`` on every conv.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]] = 256,
                 in_strides: Sequence[int] = (4, 8, 16, 32),
                 conv_channels: int = 256,
                 out_channels: int = 256,
                 common_stride: int = 4,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Kaiming', layer='Conv2d', mode='fan_out',
                     nonlinearity='relu', distribution='normal', bias=0)) -> None:
        super().__init__(init_cfg=init_cfg)
        in_strides = [int(s) for s in in_strides]
        if not in_strides:
            raise ValueError('in_strides must name at least one input level')
        if isinstance(in_channels, int):
            in_channels = [in_channels] * len(in_strides)
        in_channels = [int(c) for c in in_channels]
        if len(in_channels) != len(in_strides):
            raise ValueError(f'in_channels has {len(in_channels)} entries but in_strides has '
                             f'{len(in_strides)}')
        for name, value in (('common_stride', common_stride), *(
                (f'in_strides[{i}]', s) for i, s in enumerate(in_strides))):
            if value < 1 or value & (value - 1):
                raise ValueError(f'{name} must be a power of 2, got {value}')
        if min(in_strides) < common_stride:
            raise ValueError(f'in_strides {in_strides} has a level finer than common_stride '
                             f'{common_stride}; the decoder only upsamples')
        self.in_channels = in_channels
        self.in_strides = in_strides
        self.conv_channels = conv_channels
        self.out_channels = out_channels
        self.common_stride = common_stride
        self.norm_cfg = norm_cfg

        self.scale_heads = nn.ModuleList()
        for channels, stride in zip(in_channels, in_strides):
            num_ups = int(round(math.log2(stride) - math.log2(common_stride)))
            layers = []
            for k in range(max(1, num_ups)):
                layers.append(
                    ConvModule(channels if k == 0 else conv_channels, conv_channels, 3,
                               padding=1, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU')))
                if num_ups > 0:
                    layers.append(nn.Upsample(scale_factor=2, mode='bilinear',
                                              align_corners=False))
            self.scale_heads.append(nn.Sequential(*layers))
        self.predictor = nn.Conv2d(conv_channels, out_channels, 1)

    @property
    def num_inputs(self) -> int:
        """Number of input levels the decoder reads."""
        return len(self.in_strides)

    def forward(self, feats: Union[Tuple[Tensor, ...], List[Tensor]]) -> Tensor:
        """Fuse the input levels.

        Args:
            feats (tuple[Tensor]): The first ``num_inputs`` levels are used,
                level ``l`` of shape ``(B, in_channels[l], H_l, W_l)``.

        Returns:
            Tensor: ``(B, out_channels, H, W)`` at ``common_stride``.

        Raises:
            ValueError: Fewer levels than ``num_inputs``, or an upsampled
                level whose size differs from the first level's (input not
                padded to a multiple of the coarsest stride).
        """
        if len(feats) < self.num_inputs:
            raise ValueError(f'DensePoseDecoder needs {self.num_inputs} feature levels '
                             f'(strides {self.in_strides}), got {len(feats)}')
        fused = None
        for level, (head, feat) in enumerate(zip(self.scale_heads, feats)):
            out = head(feat)
            if fused is None:
                fused = out
                continue
            if out.shape[-2:] != fused.shape[-2:]:
                raise ValueError(
                    f'DensePoseDecoder: level {level} (stride {self.in_strides[level]}) '
                    f'upsamples to {tuple(out.shape[-2:])} but level 0 is '
                    f'{tuple(fused.shape[-2:])}; pad the input to a multiple of '
                    f'{max(self.in_strides)} (pad_size_divisor)')
            fused = fused + out
        return self.predictor(fused)
