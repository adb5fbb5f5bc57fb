# Copyright (c) mmdensekd contributors. All rights reserved.
"""Index handling shared by the per-instance containers."""
from typing import List, Sequence, Union

import numpy as np
from torch import Tensor

IndexType = Union[int, slice, Sequence[int], np.ndarray, Tensor]


def instance_indices(item: IndexType, length: int) -> List[int]:
    """Turn an ``InstanceData``-style index into a list of positions.

    Args:
        item: int, slice, sequence / array / tensor of indices, or a boolean
            mask of ``length`` entries.
        length (int): Number of instances.

    Returns:
        list[int]: Selected positions, in order.
    """
    if isinstance(item, int):
        return [range(length)[item]]
    if isinstance(item, slice):
        return list(range(length))[item]
    if isinstance(item, Tensor):
        item = item.cpu().numpy()
    item = np.asarray(item)
    if item.dtype == bool:
        if len(item) != length:
            raise IndexError(f'boolean index of length {len(item)} for {length} instances')
        return np.nonzero(item)[0].tolist()
    return item.reshape(-1).astype(np.int64).tolist()
