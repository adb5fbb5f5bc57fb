# Copyright (c) mmdensekd contributors. All rights reserved.
from .coders import RCNNKeypointCoder

__all__ = ['RCNNKeypointCoder']
