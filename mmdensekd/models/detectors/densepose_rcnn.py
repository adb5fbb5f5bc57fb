# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose R-CNN: Faster R-CNN with DensePose (and keypoint) RoI branches."""
from mmdet.models.detectors import TwoStageDetector
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig

from mmdensekd.registry import MODELS


@MODELS.register_module()
class DensePoseRCNN(TwoStageDetector):
    """DensePose R-CNN (Güler et al., 2018) as an mmdet two-stage detector.

    The DensePose and keypoint branches live in the RoI head
    (:class:`~mmdensekd.models.roi_heads.DensePoseRoIHead`); predictions add
    ``densepose`` (and ``keypoints``, ``keypoint_scores``) to
    ``pred_instances``.

    Args:
        backbone, neck, rpn_head, roi_head, train_cfg, test_cfg,
        data_preprocessor, init_cfg: as ``TwoStageDetector``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
