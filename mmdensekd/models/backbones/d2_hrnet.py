# Copyright (c) mmdensekd contributors. All rights reserved.
"""mmdet's HRNet with detectron2 DensePose's cropping multi-resolution fusion.

detectron2's DensePose HRNet (``densepose/modeling/hrnet.py``,
``PoseHigherResolutionNet``) has mmdet's HRNet parameter layout, but its
backbone is not padded to a multiple of 32 (``size_divisibility`` 0): a
branch upsampled by nearest neighbours in a fusion layer is cropped to the
size of the branch it is added to. mmdet's ``HRModule`` adds the maps as
they are, so it needs inputs padded to a multiple of 32.
"""
from typing import List

from mmdet.models.backbones import HRNet
from mmdet.models.backbones.hrnet import HRModule
from torch import Tensor

from mmdensekd.registry import MODELS


class CroppingHRModule(HRModule):
    """``HRModule`` whose fusion crops every resampled branch to the size of
    the target branch (detectron2's ``HighResolutionModule``).

    With inputs whose branch sizes halve exactly (padded to a multiple of
    32) the crop is a no-op and the output equals ``HRModule``'s.
    """

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        """Run the branches, then sum the resampled branches per output.

        Args:
            x (list[Tensor]): Branch ``i``: ``(B, C_i, H_i, W_i)`` with
                ``H_{i+1} = ceil(H_i / 2)``.

        Returns:
            list[Tensor]: One map per output branch, branch ``i``'s size.
        """
        if self.num_branches == 1:
            return [self.branches[0](x[0])]
        feats = [branch(t) for branch, t in zip(self.branches, x)]
        outs = []
        for i, fuse in enumerate(self.fuse_layers):
            height, width = feats[i].shape[-2:]
            total = None
            for j, feat in enumerate(feats):
                term = feat if i == j else fuse[j](feat)[..., :height, :width]
                total = term if total is None else total + term
            outs.append(self.relu(total))
        return outs


@MODELS.register_module()
class D2HRNet(HRNet):
    """HRNet in detectron2 DensePose's layout (``build_pose_hrnet_backbone``).

    Same parameters and names as mmdet's ``HRNet`` (detectron2's
    ``backbone.bottom_up.*`` tensors load under ``backbone.*`` unchanged),
    with :class:`CroppingHRModule` in stages 2-4 so that any input size
    runs as in detectron2 (no padding to a multiple of 32 needed).
    detectron2's ``MODEL.HRNET`` defaults (HRNet-W32): stem of two 3x3
    stride-2 convs (64 channels), stage 1 four Bottlenecks of 64, stages
    2 / 3 / 4 with 1 / 4 / 3 modules of 2 / 3 / 4 branches of four
    BasicBlocks, channels ``(w, 2w, 4w, 8w)``; all BatchNorms are plain
    ``nn.BatchNorm2d`` (trained, not frozen).

    Args: as mmdet's ``HRNet``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The stages' HRModules become CroppingHRModules: the same modules
        # and parameters (the subclass only changes forward), built by
        # mmdet's public constructor rather than by overriding its private
        # stage builder.
        for name in ('stage2', 'stage3', 'stage4'):
            for module in getattr(self, name):
                if type(module) is not HRModule:
                    raise TypeError(f'D2HRNet: {name} holds a {type(module).__name__}, '
                                    'expected mmdet HRModules')
                module.__class__ = CroppingHRModule

    def train(self, mode: bool = True) -> 'D2HRNet':
        """As mmdet's ``HRNet.train`` (``norm_eval`` honoured), but returns
        ``self`` like ``nn.Module.train`` (mmdet's returns None, so
        ``HRNet(...).eval()`` is None)."""
        super().train(mode)
        return self
