# Copyright (c) mmdensekd contributors. All rights reserved.
from .fast_inference import (
    StageAutocast,
    convert_to_channels_last,
    enable_stage_autocast,
    fuse_batch_norms,
    inference_autocast,
    optimize_for_inference,
    pick_inference_dtype,
    restore_roi_align,
    swap_roi_align,
)
from .roi_align import FastRoIAlign, roi_align_cpu

__all__ = [
    'FastRoIAlign', 'roi_align_cpu', 'fuse_batch_norms', 'convert_to_channels_last',
    'inference_autocast', 'optimize_for_inference', 'swap_roi_align', 'restore_roi_align',
    'StageAutocast', 'enable_stage_autocast', 'pick_inference_dtype'
]
