# Copyright (c) mmdensekd contributors. All rights reserved.
from .d2_hrfpn import D2HRFPN

__all__ = ['D2HRFPN']
