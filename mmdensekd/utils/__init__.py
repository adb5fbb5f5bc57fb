# Copyright (c) mmdensekd contributors. All rights reserved.
from .checkpoint_compat import (
    allow_mmengine_checkpoint_globals,
    history_buffer_getattr,
    mmengine_safe_globals,
)
from .dist_utils import setup_cpu_distributed
from .eval_args import (
    EVAL_ALIASES,
    EVAL_METRICS,
    eval_to_evaluators,
    find_ann_file,
    parse_eval_names,
)
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
from .setup_env import register_all_modules
from .tiny_densepose import TINY_SPLITS, build_tiny_densepose_coco

__all__ = [
    'register_all_modules', 'allow_mmengine_checkpoint_globals', 'history_buffer_getattr',
    'mmengine_safe_globals', 'setup_cpu_distributed', 'EVAL_METRICS', 'EVAL_ALIASES',
    'eval_to_evaluators', 'find_ann_file', 'parse_eval_names', 'box_iou_xywh', 'chart_box_xywh',
    'coarse_masks_to_rle', 'instances_from_iuv_image', 'instances_to_annotations',
    'iuv_to_dp_fields', 'load_challenge_results', 'merge_instances_into_coco', 'resample_iuv',
    'sample_dp_points', 'TINY_SPLITS', 'build_tiny_densepose_coco'
]
