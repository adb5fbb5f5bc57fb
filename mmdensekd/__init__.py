# Copyright (c) mmdensekd contributors. All rights reserved.
"""mmdensekd: DensePose and keypoints with teacher-student distillation."""
from .version import __version__, version_info  # noqa: I001
from .utils import register_all_modules  # noqa: F401
from . import datasets, engine, evaluation, models, structures, visualization  # noqa: F401

__all__ = ['__version__', 'version_info', 'register_all_modules']
