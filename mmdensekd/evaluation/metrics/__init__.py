# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_metric import DensePoseMetric
from .rcnn_keypoint_metric import CocoKeypointMetric

__all__ = ['DensePoseMetric', 'CocoKeypointMetric']
