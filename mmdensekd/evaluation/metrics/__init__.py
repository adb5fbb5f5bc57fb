# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_metric import DensePoseMetric

__all__ = ['DensePoseMetric']
