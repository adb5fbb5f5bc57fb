# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_chart_loss import DensePoseChartLoss
from .densepose_kl_loss import DensePoseKLLoss
from .densepose_uv_loss import DensePoseUVLoss
from .feature_mse_loss import FeatureMSELoss
from .heatmap_distill_loss import HeatmapDistillLoss
from .keypoint_ce_loss import KeypointCELoss

__all__ = [
    'DensePoseChartLoss', 'DensePoseKLLoss', 'DensePoseUVLoss', 'FeatureMSELoss',
    'HeatmapDistillLoss', 'KeypointCELoss'
]
