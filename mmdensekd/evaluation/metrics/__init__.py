# Copyright (c) mmdensekd contributors. All rights reserved.
from .rcnn_keypoint_metric import CocoKeypointMetric

__all__ = ['CocoKeypointMetric']
