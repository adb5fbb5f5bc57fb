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
import importlib
import logging
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer

__all__ = [
    'allow_mmengine_checkpoint_globals', 'history_buffer_getattr', 'mmengine_safe_globals',
    'CheckpointMismatchError', 'check_checkpoint_file', 'read_checkpoint', 'compare_state_dict',
    'load_checkpoint_strict'
]

_GETATTR_PATH = 'builtins.getattr'
_DONE = False


def history_buffer_getattr(obj: object, name: str) -> Callable:
    """Restricted ``getattr`` used when unpickling mmengine checkpoints.

    Args:
        obj (object): Must be the ``HistoryBuffer`` class.
        name (str): One of the built-in statistics methods of
            ``HistoryBuffer`` (``min``, ``max``, ``current``, ``mean``).

    Returns:
        Callable: ``getattr(HistoryBuffer, name)``.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    import pickle
    allowed = {'min', 'max', 'current', 'mean'}
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


def _pickle_global(module: str, name: str):
    """The object a pickle names ``module.name`` (``pickle.find_class``'s lookup)."""
    try:
        obj = importlib.import_module(module)
    except ImportError:  # numpy < 2 has no numpy._core
        obj = importlib.import_module(module.replace('numpy._core', 'numpy.core'))
    return getattr(obj, name)


def mmengine_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """Return the globals an mmengine resume checkpoint needs.

    Returns:
        list: entries for ``torch.serialization.add_safe_globals``.
    """
    entries: List[Union[Callable, Tuple[Callable, str]]] = [
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        (np.ndarray, 'numpy.ndarray'),
        (np.dtype, 'numpy.dtype'),
        (history_buffer_getattr, _GETATTR_PATH),
    ]
    for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64, np.float16, np.float32, np.float64):
        entries.append(type(np.dtype(t)))
    # the names numpy's pickles store (numpy >= 2 writes ``numpy._core``, older
    # files ``numpy.core``), resolved as the unpickler resolves them
    for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        for name in ('_reconstruct', 'scalar'):
            entries.append((_pickle_global(mod, name), f'{mod}.{name}'))
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


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model (shape mismatches or missing keys)."""


def check_checkpoint_file(filename: str) -> None:
    """Cheaply check that a local checkpoint file is complete.

    ``torch.save`` writes a zip archive whose directory is at the end, so a
    truncated file (a copy or download cut short, a full disk) has none;
    torch's own error then names no file. Only the archive's directory is
    read here, not the weights. A legacy (non-zip) pickle is not checked.

    Args:
        filename (str): The checkpoint (URIs are not checked).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: Empty or truncated, naming the file.
    """
    import os.path as osp
    import zipfile
    if '://' in filename:
        return
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    size = osp.getsize(filename)
    if size == 0:
        raise ValueError(f'checkpoint {filename} is empty (0 bytes)')
    with open(filename, 'rb') as f:
        magic = f.read(4)
    if magic != b'PK\x03\x04':
        return  # a legacy pickle: torch.load reports it (read_checkpoint names the file)
    try:
        with zipfile.ZipFile(filename) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f'checkpoint {filename} ({size} bytes) is truncated or corrupt: '
                         f'{err}; copy or download it again') from None


def read_checkpoint(filename: str, map_location: Union[str, Callable, None] = 'cpu') -> dict:
    """Read a checkpoint with weights-only loading, naming the file on failure.

    Args:
        filename (str): Local path or any URI mmengine's ``CheckpointLoader``
            reads.
        map_location: Passed to ``torch.load``.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: A local ``filename`` that does not exist.
        ValueError: An unreadable (truncated, not a checkpoint, refused
            global) file; the message names it.
    """
    from mmengine.runner import CheckpointLoader
    allow_mmengine_checkpoint_globals()
    check_checkpoint_file(filename)
    try:
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    except Exception as err:  # noqa: BLE001 - torch's message lacks the path
        raise ValueError(f'cannot read checkpoint {filename}: {type(err).__name__}: '
                         f'{str(err).strip().splitlines()[0] if str(err).strip() else err!r}'
                         ) from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint {filename} holds a {type(checkpoint).__name__}, not a '
                         'dict of weights')
    return checkpoint


def _model_state_dict(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    from mmengine.model import is_model_wrapper
    if is_model_wrapper(model):
        model = model.module
    return model.state_dict()


def compare_state_dict(own: Dict[str, torch.Tensor], state: Dict[str, torch.Tensor]
                       ) -> Dict[str, list]:
    """Compare a checkpoint's state dict with the model's.

    ``num_batches_tracked`` counters are not weights and are never reported
    missing.

    Args:
        own (dict): The model's ``state_dict()``.
        state (dict): The checkpoint's.

    Returns:
        dict: ``missing`` (model keys the checkpoint lacks), ``mismatched``
        (``(key, checkpoint shape, model shape)``), ``unexpected``
        (checkpoint keys the model lacks) and ``matching`` (keys loadable).
    """
    missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
    mismatched, matching = [], []
    for key, value in own.items():
        if key not in state:
            continue
        other = state[key]
        shape = tuple(getattr(other, 'shape', ()))
        if shape != tuple(value.shape):
            mismatched.append((key, shape, tuple(value.shape)))
        else:
            matching.append(key)
    unexpected = [k for k in state if k not in own]
    return dict(missing=missing, mismatched=mismatched, unexpected=unexpected,
                matching=matching)


def _describe(report: Dict[str, list], num_own: int, max_keys: int) -> str:
    parts = []
    if report['mismatched']:
        shown = ', '.join(f'{k} (checkpoint {list(a)} vs model {list(b)})'
                          for k, a, b in report['mismatched'][:max_keys])
        parts.append(f"{len(report['mismatched'])} shape mismatches: {shown}"
                     + (', ...' if len(report['mismatched']) > max_keys else ''))
    if report['missing']:
        shown = ', '.join(report['missing'][:max_keys])
        parts.append(f"{len(report['missing'])} of the model's {num_own} keys missing: "
                     f"{shown}" + (', ...' if len(report['missing']) > max_keys else ''))
    if report['unexpected']:
        shown = ', '.join(report['unexpected'][:max_keys])
        parts.append(f"{len(report['unexpected'])} keys the model does not have: {shown}"
                     + (', ...' if len(report['unexpected']) > max_keys else ''))
    return '; '.join(parts)


def fit_state_dict(model: torch.nn.Module,
                   state: Dict[str, torch.Tensor],
                   filename: str,
                   allow_partial: bool = False,
                   max_keys: int = 5,
                   logger: Optional[str] = 'current') -> Dict[str, list]:
    """Check that a checkpoint's ``state`` fits ``model``.

    Returns :func:`compare_state_dict`'s report; raises
    :class:`CheckpointMismatchError` on shape mismatches or missing keys
    unless ``allow_partial`` (then, as for unexpected keys, a warning).
    """
    own = _model_state_dict(model)
    report = compare_state_dict(own, state)
    problems = report['missing'] or report['mismatched']
    if problems and not allow_partial:
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not fit the model ({type(model).__name__}, '
            f'{len(report["matching"])} of {len(own)} keys match): '
            f'{_describe(report, len(own), max_keys)}. Is it a checkpoint of another config? '
            'Pass --allow-partial (allow_partial=True) to load only the matching keys.')
    if problems or report['unexpected']:
        print_log(f'checkpoint {filename}: loading {len(report["matching"])} of {len(own)} '
                  f'model keys; {_describe(report, len(own), max_keys)}', logger=logger,
                  level=logging.WARNING)
    return report


def load_checkpoint_strict(model: torch.nn.Module,
                           filename: str,
                           map_location: Union[str, Callable, None] = 'cpu',
                           allow_partial: bool = False,
                           load: bool = True,
                           revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), ),
                           max_keys: int = 5,
                           logger: Optional[str] = 'current') -> dict:
    """Load a checkpoint whose weights must fit the model.

    Test, demo and pseudo-label tools use it so that a checkpoint of another
    architecture is an error instead of a silently half-initialised model.
    The checkpoint's ``state_dict`` (or the dict itself) is compared with the
    model's own parameters and persistent buffers after ``revise_keys``.

    Args:
        model (nn.Module): The model (a wrapper's ``module`` is used).
        filename (str): The checkpoint.
        map_location: ``torch.load``'s map location. Defaults to 'cpu'.
        allow_partial (bool): Load the keys whose shapes match and log the
            rest (count and first keys) instead of raising. Defaults to False.
        load (bool): Load the weights into ``model``; False only checks
            (e.g. when an mmengine runner loads ``load_from`` itself).
            Defaults to True.
        revise_keys (sequence): ``(pattern, replacement)`` regexes applied to
            the checkpoint's keys. Defaults to stripping ``module.``.
        max_keys (int): Keys named per kind in the message. Defaults to 5.
        logger (str, optional): mmengine logger for warnings.

    Returns:
        dict: The checkpoint as read (with ``meta`` etc.).

    Raises:
        FileNotFoundError / ValueError: unreadable file (see
            :func:`read_checkpoint`).
        CheckpointMismatchError: shape mismatches or missing keys while
            ``allow_partial`` is False; the message names the file, the first
            ``max_keys`` keys of each kind and the ``--allow-partial`` flag.
    """
    checkpoint = read_checkpoint(filename, map_location)
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise ValueError(f'checkpoint {filename}: state_dict is a {type(state).__name__}')
    for pattern, repl in revise_keys:
        state = {re.sub(pattern, repl, k): v for k, v in state.items()}
    report = fit_state_dict(model, state, filename, allow_partial=allow_partial,
                            max_keys=max_keys, logger=logger)
    if load:
        from mmengine.model import is_model_wrapper
        target = model.module if is_model_wrapper(model) else model
        target.load_state_dict({k: state[k] for k in report['matching']}, strict=False)
    return checkpoint
