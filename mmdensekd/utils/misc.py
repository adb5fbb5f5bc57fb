# Copyright (c) mmdensekd contributors. All rights reserved.
"""Small helpers shared across the package."""
from typing import Any, Optional

import numpy as np
import torch


def to_numpy(value: Any, dtype: Optional[type] = None) -> np.ndarray:
    """Host numpy array of a tensor, an mmdet box object, an array or a
    sequence (cast to ``dtype`` when given)."""
    value = getattr(value, 'tensor', value)  # mmdet BaseBoxes
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)
