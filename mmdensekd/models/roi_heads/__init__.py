# Copyright (c) mmdensekd contributors. All rights reserved.
from .decoder_roi_extractor import DecoderRoIExtractor
from .densepose_roi_head import DensePoseRoIHead

__all__ = ['DensePoseRoIHead', 'DecoderRoIExtractor']
