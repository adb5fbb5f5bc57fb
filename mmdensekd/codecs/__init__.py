# Copyright (c) mmdensekd contributors. All rights reserved.
from .rcnn_keypoint_codec import RCNNKeypointCodec

__all__ = ['RCNNKeypointCodec']
