# Copyright (c) mmdensekd contributors. All rights reserved.
"""Make mmengine resume checkpoints loadable with ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``. A resume
checkpoint written by mmengine's ``Runner.save_checkpoint`` holds, besides
tensors, the message hub's ``HistoryBuffer`` objects (numpy arrays and numpy
scalars inside) and the buffer's statistics methods, which Python pickles as
``getattr(HistoryBuffer, 'min')``. Saving a real resume checkpoint and asking
``torch.serialization.get_unsafe_globals_in_checkpoint`` gives exactly::

    mmengine.logging.history_buffer.HistoryBuffer
    numpy.ndarray, numpy.dtype
    numpy._core.multiarray._reconstruct, numpy._core.multiarray.scalar
    builtins.getattr

and unpickling the numpy dtypes needs their classes (``numpy.dtypes.Float64DType``
for the float64 buffers; the other fixed-size numeric dtype classes are
allowed too so that metric scalars of any numeric dtype load).

:func:`allow_mmengine_checkpoint_globals` allow-lists those (plus the numpy 1
spellings ``numpy.core.multiarray.*`` found in older checkpoints).
``builtins.getattr`` is NOT allow-listed as the real ``getattr``: the name is
bound to :func:`history_buffer_getattr`, which only resolves the statistics
methods of ``HistoryBuffer`` and refuses anything else. ``weights_only`` stays
on everywhere.
"""
from typing import Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

__all__ = ['allow_mmengine_checkpoint_globals', 'history_buffer_getattr', 'mmengine_safe_globals']

_GETATTR_PATH = 'builtins.getattr'
_DONE = False


def history_buffer_getattr(obj: object, name: str) -> Callable:
    """Restricted ``getattr`` used when unpickling mmengine checkpoints.

    Args:
        obj (object): Must be the ``HistoryBuffer`` class.
        name (str): A registered statistics method of ``HistoryBuffer``
            (``min``, ``max``, ``current``, ``mean`` or one added with
            ``HistoryBuffer.register_statistics``).

    Returns:
        Callable: ``getattr(HistoryBuffer, name)``.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    import pickle
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed \
            and not name.startswith('_'):
        value = getattr(HistoryBuffer, name)
        if callable(value):
            return value
    raise pickle.UnpicklingError(
        f'weights_only load: getattr({obj!r}, {name!r}) is not allowed; only the '
        f'statistics methods of HistoryBuffer ({sorted(allowed)}) may be resolved. '
        'mmdensekd.utils.allow_mmengine_checkpoint_globals() bound builtins.getattr '
        'to this restricted version.')


def mmengine_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """Return the globals an mmengine resume checkpoint needs.

    Returns:
        list: entries for ``torch.serialization.add_safe_globals``.
    """
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    entries: List[Union[Callable, Tuple[Callable, str]]] = [
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        (np.ndarray, 'numpy.ndarray'),
        (np.dtype, 'numpy.dtype'),
        (history_buffer_getattr, _GETATTR_PATH),
    ]
    for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64, np.float16, np.float32, np.float64):
        entries.append(type(np.dtype(t)))
    for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        entries.append((multiarray._reconstruct, f'{mod}._reconstruct'))
        entries.append((multiarray.scalar, f'{mod}.scalar'))
    return entries


def allow_mmengine_checkpoint_globals() -> bool:
    """Allow-list :func:`mmengine_safe_globals` for weights-only loading.

    Idempotent. A no-op on torch versions without
    ``torch.serialization.add_safe_globals`` (< 2.4, where ``torch.load`` does
    not default to ``weights_only=True``).

    Returns:
        bool: whether the globals are registered.
    """
    global _DONE
    if _DONE:
        return True
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    add(mmengine_safe_globals())
    _DONE = True
    return True
