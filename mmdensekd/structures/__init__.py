# Copyright (c) mmdensekd contributors. All rights reserved.
from .chart_output import DensePoseChartPredictorOutput
from .chart_result import DensePoseChartResults
from .csi_layout import CSI_LAYOUTS, CSILayout, layout_from_shape, parse_layout
from .densepose_constants import (
    COARSE_PART_FLIP,
    COARSE_PART_NAMES,
    DP_BOX_SIZE,
    FINE_PART_FLIP,
    FINE_TO_COARSE,
    NUM_COARSE_PARTS,
    NUM_FINE_PARTS,
)
from .densepose_targets import DensePoseTargets
from .iuv_png import decode_iuv_png, encode_iuv_png

__all__ = [
    'DensePoseTargets', 'DensePoseChartPredictorOutput', 'DensePoseChartResults',
    'DP_BOX_SIZE', 'NUM_FINE_PARTS', 'NUM_COARSE_PARTS', 'COARSE_PART_NAMES',
    'FINE_PART_FLIP', 'COARSE_PART_FLIP', 'FINE_TO_COARSE', 'encode_iuv_png',
    'decode_iuv_png', 'CSILayout', 'CSI_LAYOUTS', 'parse_layout', 'layout_from_shape'
]
