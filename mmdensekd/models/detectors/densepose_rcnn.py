# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose R-CNN: Faster R-CNN with DensePose (and keypoint) RoI branches."""
from typing import Optional, Sequence, Union

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig

from mmdensekd.registry import MODELS

from ..layers.fast_inference import AUTOCAST_STAGES, enable_stage_autocast, swap_roi_align


@MODELS.register_module()
class DensePoseRCNN(TwoStageDetector):
    """DensePose R-CNN (Güler et al., 2018) as an mmdet two-stage detector.

    The DensePose and keypoint branches live in the RoI head
    (:class:`~mmdensekd.models.roi_heads.DensePoseRoIHead`); predictions add
    ``densepose`` (and ``keypoints``, ``keypoint_scores``) to
    ``pred_instances``. Training and prediction are mmdet's
    ``TwoStageDetector`` ones.

    Inference options (evaluation mode only; training is unaffected), the
    config side of :func:`~mmdensekd.models.layers.optimize_for_inference`:

    * ``inference_dtype='bf16'`` (or ``'fp16'``): the stages run under
      ``torch.autocast`` in that dtype, installed as forward hooks
      (:class:`~mmdensekd.models.layers.fast_inference.StageAutocast`):
      convolutions and linear layers in bf16, RoIAlign, box decoding, NMS,
      DensePose chart and keypoint decoding in float32;
    * ``fast_cpu_roi_align=True``: mmcv ``RoIAlign`` layers of the RoI
      extractors are swapped for
      :class:`~mmdensekd.models.layers.FastRoIAlign` (same outputs; a
      vectorised kernel on CPU tensors, mmcv's kernel on CUDA);
    * ``channels_last=True``: inputs are made channels-last (use with
      :func:`~mmdensekd.models.layers.convert_to_channels_last`);
    * ``autocast_stages``: which of ``('backbone', 'neck', 'rpn_head',
      'roi_head')`` autocast covers (all by default).

    Args:
        backbone, neck, rpn_head, roi_head, train_cfg, test_cfg,
        data_preprocessor, init_cfg: as ``TwoStageDetector``. ``test_cfg``
            may hold ``inference_dtype`` (used when the argument is None).
        inference_dtype (str, optional): ``'fp32'`` (default), ``'bf16'``
            or ``'fp16'``.
        fast_cpu_roi_align (bool): Swap in the fast CPU RoIAlign. Defaults
            to True.
        channels_last (bool): Channels-last inputs. Defaults to False.
        autocast_stages (Sequence[str]): Stages run in ``inference_dtype``.
            Defaults to all.
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 inference_dtype: Optional[str] = None,
                 fast_cpu_roi_align: bool = True,
                 channels_last: bool = False,
                 autocast_stages: Sequence[str] = AUTOCAST_STAGES) -> None:
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if inference_dtype is None and test_cfg is not None:
            inference_dtype = test_cfg.get('inference_dtype', None)
        self.channels_last = bool(channels_last)
        enable_stage_autocast(self, inference_dtype, autocast_stages)
        if fast_cpu_roi_align:
            swap_roi_align(self.roi_head)

    def set_inference_dtype(self, inference_dtype: Union[None, str, torch.dtype]) -> None:
        """Set the autocast dtype of inference (``'fp32'``/None, ``'bf16'``,
        ``'fp16'``); raises ``ValueError`` on other names."""
        enable_stage_autocast(self, inference_dtype)

    @property
    def inference_dtype(self) -> str:
        """``'fp32'``, ``'bf16'`` or ``'fp16'``."""
        return {None: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16'}[self.autocast_dtype]
