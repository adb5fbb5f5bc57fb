# Copyright (c) mmdensekd contributors. All rights reserved.
"""Generator snapshots and the resumable data-loader iterator."""
import io
import random

import numpy as np
import torch

from mmdensekd.engine.hooks.rng_state import ResumableIterator, get_rng_state, set_rng_state


def _draw():
    return (random.random(), float(np.random.rand()), float(torch.rand(1)),
            float(np.random.randn()))


def test_snapshot_roundtrip_through_weights_only_load():
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = get_rng_state()
    expected = _draw()
    buf = io.BytesIO()
    torch.save(dict(rng_state=state), buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)['rng_state']  # no numpy arrays inside
    _draw()
    set_rng_state(loaded)
    assert _draw() == expected


def test_iterator_restores_after_replay():
    torch.manual_seed(0)
    state = get_rng_state()
    first = float(torch.rand(1))
    it = ResumableIterator(iter([10, 11, 12]), skip=2, state=state)
    assert next(it) == 10 and next(it) == 11
    torch.rand(5)  # whatever ran in between
    assert next(it) == 12
    assert float(torch.rand(1)) == first  # restored right before the third batch
    assert it.num_fetched == 3


def test_restore_before_next_in_the_uninterrupted_run():
    it = ResumableIterator(iter(range(5)))
    next(it)
    torch.manual_seed(7)
    it.restore_before_next(get_rng_state())
    expected = float(torch.rand(1))
    torch.rand(3)
    next(it)
    assert float(torch.rand(1)) == expected
