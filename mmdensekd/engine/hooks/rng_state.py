# Copyright (c) mmdensekd contributors. All rights reserved.
"""Random-number-generator states in a form ``torch.load(weights_only=True)``
accepts, and the data-loader iterator that restores them on resume.

The states are kept as plain Python values and tensors only (no numpy
arrays), so a resume checkpoint stays loadable with weights-only loading::

    {'python': [version, [625 ints], gauss_next],
     'numpy': {'keys': int64 tensor (624,), 'pos': int, 'has_gauss': int,
               'cached_gaussian': float},
     'torch': uint8 tensor, 'cuda': [uint8 tensor per device]}
"""
import random
from typing import Iterator, Optional

import numpy as np
import torch

__all__ = ['get_rng_state', 'set_rng_state', 'ResumableIterator']


def get_rng_state() -> dict:
    """Snapshot the Python, numpy, torch (and CUDA) global generators.

    Returns:
        dict: see the module docstring.
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    if name != 'MT19937':
        raise RuntimeError(f'unexpected numpy bit generator {name!r}')
    state = dict(
        python=[version, list(internal), gauss],
        numpy=dict(keys=torch.from_numpy(np.asarray(keys, dtype=np.int64).copy()),
                   pos=int(pos), has_gauss=int(has_gauss), cached_gaussian=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore a snapshot of :func:`get_rng_state`.

    Args:
        state (dict): The snapshot.

    Raises:
        KeyError: A generator is missing from ``state`` (names it).
    """
    for key in ('python', 'numpy', 'torch'):
        if key not in state:
            raise KeyError(f'RNG state has no {key!r} entry (keys: {sorted(state)})')
    version, internal, gauss = state['python']
    random.setstate((int(version), tuple(int(x) for x in internal), gauss))
    np_state = state['numpy']
    np.random.set_state(('MT19937', np_state['keys'].numpy().astype(np.uint32),
                         int(np_state['pos']), int(np_state['has_gauss']),
                         float(np_state['cached_gaussian'])))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
        else:  # another number of devices: restore what matches
            for device, s in enumerate(cuda[:torch.cuda.device_count()]):
                torch.cuda.set_rng_state(s.cpu(), device)


class ResumableIterator:
    """Wraps a train loop's data-loader iterator so that the generators can be
    put back to a snapshot right before a given fetch.

    ``IterBasedTrainLoop`` replays ``skip`` batches after a resume (the
    sampler and the worker processes then stand where they stood when the
    checkpoint was written); the snapshot is restored after those, right
    before the first new batch is fetched. :meth:`restore_before_next`
    schedules the same restore in the uninterrupted run, so both runs see the
    same random numbers from the checkpoint on, whatever ran in between
    (logging, validation).

    Args:
        iterator (Iterator): The loop's ``dataloader_iterator``.
        skip (int): Batches the loop replays before training resumes.
        state (dict, optional): Snapshot to restore after the replay.
    """

    def __init__(self, iterator: Iterator, skip: int = 0,
                 state: Optional[dict] = None) -> None:
        self.iterator = iterator
        self.skip = int(skip)
        self.state = state
        self.num_fetched = 0

    def restore_before_next(self, state: dict) -> None:
        """Restore ``state`` right before the next new batch is fetched."""
        self.state = state

    def __iter__(self) -> 'ResumableIterator':
        return self

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
        elif self.state is not None:
            set_rng_state(self.state)
            self.state = None
        self.num_fetched += 1
        return next(self.iterator)

    def __getattr__(self, name: str):
        # e.g. ``_dataloader`` / ``_epoch`` of mmengine's infinite iterator
        return getattr(self.__dict__['iterator'], name)
