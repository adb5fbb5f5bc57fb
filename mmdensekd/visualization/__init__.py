# Copyright (c) mmdensekd contributors. All rights reserved.
from .backend_check import TENSORBOARD_HINT, check_tensorboard_available
from .csi_drawing import csi_to_2d, draw_csi_panel
from .densepose_drawing import (
    COCO_SKELETON,
    chart_window,
    coarse_part_palette,
    dp_points_to_image,
    draw_box,
    draw_coarse_segm,
    draw_densepose_parts,
    draw_densepose_texture,
    draw_densepose_uv,
    draw_dp_points,
    draw_keypoints,
    fine_part_palette,
    split_texture_atlas,
)
from .densepose_visualizer import VIS_MODES, DensePoseVisualizer

__all__ = [
    'DensePoseVisualizer', 'VIS_MODES', 'COCO_SKELETON', 'chart_window', 'draw_box',
    'draw_densepose_parts', 'draw_densepose_texture', 'draw_densepose_uv', 'draw_keypoints',
    'fine_part_palette', 'split_texture_atlas', 'coarse_part_palette', 'dp_points_to_image',
    'draw_coarse_segm', 'draw_dp_points', 'csi_to_2d', 'draw_csi_panel',
    'check_tensorboard_available', 'TENSORBOARD_HINT'
]
