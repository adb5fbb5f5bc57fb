# Copyright (c) mmdensekd contributors. All rights reserved.
import io
import pickle
import pickletools
import zipfile

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmdensekd.utils import allow_mmengine_checkpoint_globals


def _roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return buf


def _pickled_globals(buf):
    buf.seek(0)
    with zipfile.ZipFile(buf) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith('data.pkl')))
    buf.seek(0)
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == 'GLOBAL'}


def _message_hub_state():
    hub = MessageHub('test_checkpoint_compat')
    for i in range(5):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
        hub.update_scalar('train/acc', np.float32(i), count=2)
    hub.update_info('best_score', np.float64(0.5))
    hub.update_info('keep_ckpt_ids', [2, 4])
    return hub.state_dict()


def test_message_hub_state_loads_weights_only():
    allow_mmengine_checkpoint_globals()
    state = dict(message_hub=_message_hub_state(), meta=dict(seed=np.int64(3)),
                 arrays=[np.arange(3, dtype=np.int32), np.ones(2, np.float16)])
    buf = _roundtrip(state)
    # the checkpoint really needs the non-default globals ...
    raw = _pickled_globals(buf)
    assert {'mmengine.logging.history_buffer HistoryBuffer', '__builtin__ getattr',
            'numpy dtype', 'numpy ndarray'} <= raw
    # ... and none of them is unsafe any more
    assert torch.serialization.get_unsafe_globals_in_checkpoint(buf) == []
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    loss = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert loss.current() == pytest.approx(0.2)
    assert loss.mean() == pytest.approx(np.mean([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]))
    assert loaded['message_hub']['runtime_info']['best_score'] == 0.5
    assert loaded['meta']['seed'] == 3
    assert loaded['arrays'][0].dtype == np.int32


class _Sneaky:
    """Pickles as getattr(HistoryBuffer, '__init__') -- must be refused."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


class _SneakyOther:
    """Pickles as getattr(np.ndarray, 'tofile') -- must be refused."""

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


@pytest.mark.parametrize('obj', [_Sneaky(), _SneakyOther()])
def test_getattr_is_restricted(obj):
    allow_mmengine_checkpoint_globals()
    with pytest.raises(pickle.UnpicklingError, match='is not allowed'):
        torch.load(_roundtrip({'x': obj}), weights_only=True)


def test_idempotent():
    assert allow_mmengine_checkpoint_globals() is True
    assert allow_mmengine_checkpoint_globals() is True
