# Copyright (c) mmdensekd contributors. All rights reserved.
from . import (  # noqa: F401
    backbones,
    data_preprocessors,
    detectors,
    distillers,
    heads,
    losses,
    mtn,
    necks,
    roi_heads,
    task_modules,
)
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .mtn import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .roi_heads import *  # noqa: F401,F403
from .task_modules import *  # noqa: F401,F403
