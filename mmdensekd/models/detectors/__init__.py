# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_rcnn import DensePoseRCNN

__all__ = ['DensePoseRCNN']
