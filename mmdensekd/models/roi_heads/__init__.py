# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_roi_head import DensePoseRoIHead

__all__ = ['DensePoseRoIHead']
