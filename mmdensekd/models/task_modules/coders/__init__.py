# Copyright (c) mmdensekd contributors. All rights reserved.
from .rcnn_keypoint_coder import RCNNKeypointCoder

__all__ = ['RCNNKeypointCoder']
