# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_chart_decoding import decode_charts_to_boxes
from .densepose_chart_head import DensePoseChartHead
from .densepose_chart_predictor import DensePoseChartPredictor, uv_variance
from .densepose_decoder import DensePoseDecoder
from .densepose_deeplab_head import DensePoseDeepLabHead
from .densepose_v1convx_head import DensePoseV1ConvXHead
from .keypoint_rcnn_head import KeypointRCNNHead
from .refine_head import DensePoseKeypointRefineHead

__all__ = ['DensePoseV1ConvXHead', 'DensePoseChartPredictor', 'DensePoseChartHead',
           'KeypointRCNNHead', 'DensePoseKeypointRefineHead', 'DensePoseDecoder',
           'DensePoseDeepLabHead', 'decode_charts_to_boxes', 'uv_variance']
