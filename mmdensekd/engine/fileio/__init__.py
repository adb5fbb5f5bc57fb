# Copyright (c) mmdensekd contributors. All rights reserved.
from .atomic_backend import AtomicLocalBackend, fsync_dir

__all__ = ['AtomicLocalBackend', 'fsync_dir']
