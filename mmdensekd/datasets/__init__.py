# Copyright (c) mmdensekd contributors. All rights reserved.
from .coco_keypoints import (
    COCO_KEYPOINT_FLIP_INDICES,
    COCO_KEYPOINT_FLIP_PAIRS,
    COCO_KEYPOINT_NAMES,
)
from .csi_capture import CAPTURE_FORMATS, CSICapture, read_csi_capture
from .csi_windowing import capture_to_frames
from .densepose_coco import DensePoseCocoDataset
from .densepose_parsing import parse_densepose, rle_run_lengths
from .iuv_conversion import (
    box_iou_xywh,
    chart_box_xywh,
    coarse_masks_to_rle,
    instances_from_iuv_image,
    instances_to_annotations,
    iuv_to_dp_fields,
    load_challenge_results,
    merge_instances_into_coco,
    resample_iuv,
    sample_dp_points,
)
from .mmfi_dataset import MMFiDensePoseDataset
from .paired_wifi_dataset import PairedWiFiDensePoseDataset
from .transforms import *  # noqa: F401,F403
from .wisppn_dataset import WiSPPNPairedDataset

__all__ = [
    'DensePoseCocoDataset', 'PairedWiFiDensePoseDataset', 'MMFiDensePoseDataset',
    'parse_densepose', 'rle_run_lengths', 'COCO_KEYPOINT_NAMES', 'COCO_KEYPOINT_FLIP_PAIRS',
    'COCO_KEYPOINT_FLIP_INDICES', 'CAPTURE_FORMATS', 'CSICapture', 'read_csi_capture',
    'capture_to_frames', 'WiSPPNPairedDataset', 'box_iou_xywh',
    'chart_box_xywh', 'coarse_masks_to_rle', 'instances_from_iuv_image',
    'instances_to_annotations', 'iuv_to_dp_fields', 'load_challenge_results',
    'merge_instances_into_coco', 'resample_iuv', 'sample_dp_points'
]
