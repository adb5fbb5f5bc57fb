# Copyright (c) mmdensekd contributors. All rights reserved.
from .distill_val_loop import DistillValLoop

__all__ = ['DistillValLoop']
