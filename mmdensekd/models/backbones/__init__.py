# Copyright (c) mmdensekd contributors. All rights reserved.
from .d2_hrnet import CroppingHRModule, D2HRNet

__all__ = ['D2HRNet', 'CroppingHRModule']
