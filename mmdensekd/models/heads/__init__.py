# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_chart_head import DensePoseChartHead
from .densepose_chart_predictor import DensePoseChartPredictor
from .densepose_decoder import DensePoseDecoder
from .densepose_v1convx_head import DensePoseV1ConvXHead
from .keypoint_rcnn_head import KeypointRCNNHead
from .refine_head import DensePoseKeypointRefineHead

__all__ = ['DensePoseV1ConvXHead', 'DensePoseChartPredictor', 'DensePoseChartHead',
           'KeypointRCNNHead',
           'DensePoseKeypointRefineHead', 'DensePoseDecoder']
