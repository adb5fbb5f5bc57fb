# Copyright (c) mmdensekd contributors. All rights reserved.
from .coco_keypoints import (
    COCO_KEYPOINT_FLIP_INDICES,
    COCO_KEYPOINT_FLIP_PAIRS,
    COCO_KEYPOINT_NAMES,
)
from .densepose_coco import DensePoseCocoDataset
from .densepose_parsing import parse_densepose, rle_run_lengths
from .mmfi_dataset import MMFiDensePoseDataset
from .paired_wifi_dataset import PairedWiFiDensePoseDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'DensePoseCocoDataset', 'PairedWiFiDensePoseDataset', 'MMFiDensePoseDataset',
    'parse_densepose', 'rle_run_lengths', 'COCO_KEYPOINT_NAMES', 'COCO_KEYPOINT_FLIP_PAIRS',
    'COCO_KEYPOINT_FLIP_INDICES'
]
