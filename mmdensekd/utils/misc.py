# Copyright (c) mmdensekd contributors. All rights reserved.
"""Small helpers shared across the package."""
import os
import os.path as osp
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


#: Suffix of the hidden temporary files written by :func:`atomic_write_text`
#: and the atomic checkpoint hook.
PARTIAL_SUFFIX = '.partial'


def partial_name(filename: str) -> str:
    """Hidden temporary name that ``filename`` is written under first."""
    head, tail = osp.split(filename)
    return osp.join(head, f'.{tail}{PARTIAL_SUFFIX}')


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    tmp = partial_name(path)
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
