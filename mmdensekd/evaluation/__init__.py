# Copyright (c) mmdensekd contributors. All rights reserved.
from . import functional, metrics
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403

__all__ = list(functional.__all__) + list(metrics.__all__)
