# Copyright (c) mmdensekd contributors. All rights reserved.
from . import fileio, hooks, runner  # noqa: F401
from .fileio import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
