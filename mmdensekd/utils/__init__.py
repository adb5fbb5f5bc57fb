# Copyright (c) mmdensekd contributors. All rights reserved.
from .checkpoint_compat import (
    allow_mmengine_checkpoint_globals,
    history_buffer_getattr,
    mmengine_safe_globals,
)
from .dist_utils import setup_cpu_distributed
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'allow_mmengine_checkpoint_globals', 'history_buffer_getattr',
    'mmengine_safe_globals', 'setup_cpu_distributed'
]
