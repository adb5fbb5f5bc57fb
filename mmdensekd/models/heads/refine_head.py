# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose-keypoint refinement unit ("DensePose From WiFi", Geng et al.).

Shape legend used below:

* ``M``: number of RoIs
* ``Cd, Hd, Wd``: DensePose branch feature channels / size (512, 28, 28)
* ``Ck, Hk, Wk``: keypoint branch feature channels / size (512, 14, 14)
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdensekd.registry import MODELS

_FUSE_MODES = ('sum', 'concat')


def _resize_to(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinearly resize ``x`` to ``size`` (no-op when already that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


@MODELS.register_module()
class DensePoseKeypointRefineHead(BaseModule):
    """Couple the DensePose and keypoint branches through refinement units.

    For each branch, the other branch's features are resized (bilinear) to
    this branch's spatial size and fused with this branch's own features,
    by element-wise ``sum`` (after a 1x1 projection when the channel counts
    differ) or channel ``concat``; one refinement unit per branch
    (``num_convs`` x (conv3x3 + ReLU)) maps the fused tensor back to the
    branch's channel count, so that branch's own predictor applies to it
    unchanged (the RoI head calls the predictors).

    The paper's weights of the two branch losses in the total loss
    (``L_dp`` 0.6, ``L_kp`` 0.3) are not set here: each branch's loss
    config carries its own ``loss_weight`` (the one place for a weight).

    Args:
        dp_channels (int): DensePose feature channels ``Cd``. Defaults to 512.
        kpt_channels (int): Keypoint feature channels ``Ck``. Defaults to 512.
        fuse (str): ``'sum'`` or ``'concat'``. Defaults to ``'sum'``.
        num_convs (int): Conv blocks per refinement unit. Defaults to 2.
        kernel_size (int): Odd conv kernel size. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to Kaiming normal (fan_out, ReLU) with zero bias.
    """

    def __init__(self,
                 dp_channels: int = 512,
                 kpt_channels: int = 512,
                 fuse: str = 'sum',
                 num_convs: int = 2,
                 kernel_size: int = 3,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu',
                     distribution='normal', bias=0)
            ]
        super().__init__(init_cfg=init_cfg)
        if fuse not in _FUSE_MODES:
            raise ValueError(f'`fuse` must be one of {_FUSE_MODES}, got {fuse!r}')
        for key, value in (('dp_channels', dp_channels), ('kpt_channels', kpt_channels),
                           ('num_convs', num_convs)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'`{key}` must be a positive integer, got {value!r}')
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'`kernel_size` must be a positive odd integer, got {kernel_size!r}')

        self.dp_channels = dp_channels
        self.kpt_channels = kpt_channels
        self.fuse = fuse

        # projection of the *other* branch into this branch's channels (sum)
        self.kpt_to_dp = self._projection(kpt_channels, dp_channels)
        self.dp_to_kpt = self._projection(dp_channels, kpt_channels)
        fused_ch = dp_channels + kpt_channels
        self.dp_refine = self._unit(fused_ch if fuse == 'concat' else dp_channels, dp_channels,
                                    num_convs, kernel_size)
        self.kpt_refine = self._unit(fused_ch if fuse == 'concat' else kpt_channels,
                                     kpt_channels, num_convs, kernel_size)

    def _projection(self, in_ch: int, out_ch: int) -> nn.Module:
        if self.fuse == 'sum' and in_ch != out_ch:
            return nn.Conv2d(in_ch, out_ch, 1)
        return nn.Identity()

    @staticmethod
    def _unit(in_ch: int, out_ch: int, num_convs: int, kernel_size: int) -> nn.Sequential:
        layers = []
        for _ in range(num_convs):
            layers += [
                nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2),
                nn.ReLU(inplace=True)
            ]
            in_ch = out_ch
        return nn.Sequential(*layers)

    def _fuse(self, own: Tensor, other: Tensor, proj: nn.Module) -> Tensor:
        other = _resize_to(other, own.shape[-2:])
        if self.fuse == 'sum':
            return own + proj(other)
        return torch.cat([own, other], dim=1)

    def forward(self, dp_feats: Tensor, kpt_feats: Tensor) -> Tuple[Tensor, Tensor]:
        """Refine both branches' features.

        Args:
            dp_feats (Tensor): ``(M, Cd, Hd, Wd)`` DensePose branch features.
            kpt_feats (Tensor): ``(M, Ck, Hk, Wk)`` keypoint branch features.

        Returns:
            tuple: ``dp_refined`` ``(M, Cd, Hd, Wd)`` and ``kpt_refined``
            ``(M, Ck, Hk, Wk)``.
        """
        if dp_feats.dim() != 4 or kpt_feats.dim() != 4:
            raise ValueError('expected 4-D dp_feats and kpt_feats, got shapes '
                             f'{tuple(dp_feats.shape)} and {tuple(kpt_feats.shape)}')
        if dp_feats.shape[0] != kpt_feats.shape[0]:
            raise ValueError('dp_feats and kpt_feats must hold the same RoIs, got '
                             f'{dp_feats.shape[0]} and {kpt_feats.shape[0]}')
        if dp_feats.shape[1] != self.dp_channels or kpt_feats.shape[1] != self.kpt_channels:
            raise ValueError(
                f'channels ({dp_feats.shape[1]}, {kpt_feats.shape[1]}) do not match '
                f'`dp_channels`={self.dp_channels}, `kpt_channels`={self.kpt_channels}')
        dp_refined = self.dp_refine(self._fuse(dp_feats, kpt_feats, self.kpt_to_dp))
        kpt_refined = self.kpt_refine(self._fuse(kpt_feats, dp_feats, self.dp_to_kpt))
        return dp_refined, kpt_refined


__all__ = ['DensePoseKeypointRefineHead']
