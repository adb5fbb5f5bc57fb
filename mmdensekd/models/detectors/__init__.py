# Copyright (c) mmdensekd contributors. All rights reserved.
from .csi_detector import CSIDetector
from .densepose_rcnn import DensePoseRCNN

__all__ = ['CSIDetector', 'DensePoseRCNN']
