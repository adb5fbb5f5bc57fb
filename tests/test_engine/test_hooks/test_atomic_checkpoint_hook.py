# Copyright (c) mmdensekd contributors. All rights reserved.
import errno
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.fileio.backends import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmdensekd.engine.fileio import atomic_backend
from mmdensekd.engine.hooks import AtomicCheckpointHook


class _ToyData(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(4, generator=g), target=torch.randn(1, generator=g))


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, inputs, target=None, data_samples=None, mode='tensor'):
        out = self.fc(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=((out - torch.stack(target))**2).mean())
        return out


def _runner(work_dir, hook_type, max_iters, resume=False, name='atomic'):
    return Runner(
        model=_ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'{name}_{hook_type}_{max_iters}_{int(resume)}',
        train_dataloader=dict(dataset=_ToyData(),
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[3], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type=hook_type, interval=2, by_epoch=False,
                                           max_keep_ckpts=1)),
        resume=resume,
        default_scope='mmdet')


def _failing_put(monkeypatch, fail_on):
    """Make the ``fail_on``-th checkpoint write die half-way (like a kill)."""
    calls = {'n': 0}
    real_put = LocalBackend.put

    def put(self, obj, filepath):
        calls['n'] += 1
        if calls['n'] == fail_on:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise KeyboardInterrupt('killed while saving')
        return real_put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', put)


def test_saves_prunes_and_resumes_weights_only(tmp_path):
    _runner(tmp_path, 'AtomicCheckpointHook', 4).train()
    files = sorted(os.listdir(tmp_path))
    assert 'iter_4.pth' in files and 'iter_2.pth' not in files  # max_keep_ckpts=1
    assert not [f for f in files if f.endswith('.partial')]
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == osp.join(str(tmp_path), 'iter_4.pth')
    ckpt = torch.load(tmp_path / 'iter_4.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [4]
    # resume (torch.load with weights_only=True inside mmengine) continues
    runner = _runner(tmp_path, 'AtomicCheckpointHook', 6, resume=True)
    runner.train()
    assert runner.iter == 6
    assert osp.isfile(tmp_path / 'iter_6.pth')


class _HalfWrittenFile:
    """A file whose write stores half the data, then fails like ``exc``."""

    def __init__(self, f, exc):
        self.f, self.exc = f, exc

    def write(self, data):
        self.f.write(data[:len(data) // 2])
        self.f.flush()
        raise self.exc

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.f.close()


def _failing_atomic_write(monkeypatch, fail_on, exc):
    """Make the ``fail_on``-th checkpoint written through the atomic backend
    fail half-way with ``exc`` (a full disk, an interrupt)."""
    calls = {'n': 0}

    def fake_open(path, mode='r', *args, **kwargs):
        f = open(path, mode, *args, **kwargs)
        if str(path).endswith('.pth.partial') and 'w' in mode:
            calls['n'] += 1
            if calls['n'] == fail_on:
                return _HalfWrittenFile(f, exc)
        return f

    monkeypatch.setattr(atomic_backend, 'open', fake_open, raising=False)


def test_uses_atomic_backend_unless_told_otherwise():
    assert AtomicCheckpointHook(interval=2).backend_args == dict(backend='atomic_local')
    remote = AtomicCheckpointHook(interval=2, out_dir='s3://bucket/run')
    assert remote.backend_args is None
    own = AtomicCheckpointHook(interval=2, backend_args=dict(backend='local'))
    assert own.backend_args == dict(backend='local')


@pytest.mark.parametrize('exc', [OSError(errno.ENOSPC, 'No space left on device'),
                                 KeyboardInterrupt('interrupted while saving')],
                         ids=['disk_full', 'interrupt'])
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, exc):
    _failing_atomic_write(monkeypatch, fail_on=2, exc=exc)
    with pytest.raises(type(exc)) as info:
        _runner(tmp_path, 'AtomicCheckpointHook', 4).train()
    if isinstance(exc, OSError):  # the error names the file; the errno is kept
        assert info.value.errno == errno.ENOSPC
        assert osp.join(str(tmp_path), 'iter_4.pth') in str(info.value)
        assert 'disk full' in str(info.value)
    # the half-written iter_4 never appears under its real name and its
    # partial file is gone; iter_2 (the one max_keep_ckpts would have
    # removed first) is complete and still referenced
    assert not osp.exists(tmp_path / 'iter_4.pth')
    assert not osp.exists(tmp_path / '.iter_4.pth.partial')
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == osp.join(str(tmp_path), 'iter_2.pth')
    assert torch.load(tmp_path / 'iter_2.pth', weights_only=True)['meta']['iter'] == 2
    # the next run resumes from iter_2
    monkeypatch.undo()
    runner = _runner(tmp_path, 'AtomicCheckpointHook', 4, resume=True, name='again')
    runner.train()
    assert torch.load(tmp_path / 'iter_4.pth', weights_only=True)['meta']['iter'] == 4
    assert not osp.exists(tmp_path / 'iter_2.pth')  # pruned once iter_4 was complete


def test_killed_run_leftovers_are_cleaned_and_repaired(tmp_path):
    """A SIGKILL leaves a partial file (no cleanup runs) and, at worst, an
    empty ``last_checkpoint``: the next run removes the one and repairs the
    other before resuming."""
    _runner(tmp_path, 'AtomicCheckpointHook', 2).train()
    (tmp_path / '.iter_4.pth.partial').write_bytes(b'half a checkpoint')
    (tmp_path / 'last_checkpoint').write_text('')
    runner = _runner(tmp_path, 'AtomicCheckpointHook', 4, resume=True, name='again')
    runner.train()
    assert runner.iter == 4
    assert not osp.exists(tmp_path / '.iter_4.pth.partial')
    assert torch.load(tmp_path / 'iter_4.pth', weights_only=True)['meta']['iter'] == 4
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == osp.join(str(tmp_path), 'iter_4.pth')


def test_last_checkpoint_naming_a_missing_file_points_at_the_newest(tmp_path):
    _runner(tmp_path, 'AtomicCheckpointHook', 2).train()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_9.pth'))
    runner = _runner(tmp_path, 'AtomicCheckpointHook', 2, resume=True, name='again')
    hook = next(h for h in runner.hooks if isinstance(h, AtomicCheckpointHook))
    hook.repair_last_checkpoint(runner)
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == osp.join(str(tmp_path), 'iter_2.pth')


def test_plain_checkpoint_hook_would_corrupt(tmp_path, monkeypatch):
    """The failure mode AtomicCheckpointHook fixes (guards the test above)."""
    _failing_put(monkeypatch, fail_on=2)
    with pytest.raises(KeyboardInterrupt):
        _runner(tmp_path, 'CheckpointHook', 4).train()
    assert osp.isfile(tmp_path / 'iter_4.pth')  # truncated
    assert not osp.exists(tmp_path / 'iter_2.pth')  # pruned before the save
    with pytest.raises(Exception):
        torch.load(tmp_path / 'iter_4.pth', weights_only=True)
