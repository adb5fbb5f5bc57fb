# Copyright (c) mmdensekd contributors. All rights reserved.
"""mmdet's HRNet with detectron2 DensePose's cropping multi-resolution fusion.

detectron2's DensePose HRNet (``densepose/modeling/hrnet.py``,
``PoseHigherResolutionNet``) has mmdet's HRNet parameter layout, but its
backbone is not padded to a multiple of 32 (``size_divisibility`` 0): a
branch upsampled by nearest neighbours in a fusion layer is cropped to the
size of the branch it is added to. mmdet's ``HRModule`` adds the maps as
they are, so it needs inputs padded to a multiple of 32.
"""
from typing import List, Sequence, Tuple

from mmdet.models.backbones import HRNet
from mmdet.models.backbones.hrnet import HRModule
from mmengine.model import Sequential
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

    def train(self, mode: bool = True) -> 'D2HRNet':
        """As mmdet's ``HRNet.train`` (``norm_eval`` honoured), but returns
        ``self`` like ``nn.Module.train`` (mmdet's returns None, so
        ``HRNet(...).eval()`` is None)."""
        super().train(mode)
        return self

    def _make_stage(self, layer_config: dict, in_channels: Sequence[int],
                    multiscale_output: bool = True) -> Tuple[Sequential, List[int]]:
        """Build one stage of :class:`CroppingHRModule`."""
        num_modules = layer_config['num_modules']
        block = self.blocks_dict[layer_config['block']]
        modules = []
        for index in range(num_modules):
            module = CroppingHRModule(
                layer_config['num_branches'],
                block,
                layer_config['num_blocks'],
                in_channels,
                layer_config['num_channels'],
                multiscale_output or index < num_modules - 1,
                with_cp=self.with_cp,
                norm_cfg=self.norm_cfg,
                conv_cfg=self.conv_cfg)
            modules.append(module)
            in_channels = module.in_channels
        return Sequential(*modules), in_channels
