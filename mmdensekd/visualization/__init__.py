# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_drawing import (
    COCO_SKELETON,
    chart_window,
    draw_box,
    draw_densepose_parts,
    draw_densepose_texture,
    draw_densepose_uv,
    draw_keypoints,
    fine_part_palette,
    split_texture_atlas,
)
from .densepose_visualizer import VIS_MODES, DensePoseVisualizer

__all__ = [
    'DensePoseVisualizer', 'VIS_MODES', 'COCO_SKELETON', 'chart_window', 'draw_box',
    'draw_densepose_parts', 'draw_densepose_texture', 'draw_densepose_uv', 'draw_keypoints',
    'fine_part_palette', 'split_texture_atlas'
]
