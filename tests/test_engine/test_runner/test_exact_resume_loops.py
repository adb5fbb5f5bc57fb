# Copyright (c) mmdensekd contributors. All rights reserved.
"""Exact resume of the epoch- and iteration-based loops, in-process on a toy
model whose losses depend on every generator (numpy and Python augmentation
in the dataset, torch dropout in the model, the shuffling sampler): a run
resumed from any checkpoint, mid-epoch included, logs the same losses as the
uninterrupted run."""
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmdensekd.engine.runner import (
    ExactResumeEpochBasedTrainLoop,
    ExactResumeIterBasedTrainLoop,
    ExactResumeRunner,
    exact_resume_loop_cfg,
)
from mmdensekd.utils import allow_mmengine_checkpoint_globals

BATCHES_PER_EPOCH = 4  # 8 samples, batch size 2


class _NoisyData(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(4, generator=g) + float(np.random.randn()) + random.random()
        return dict(inputs=x, target=torch.randn(1, generator=g))


class _DropoutModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.drop = nn.Dropout(0.5)

    def forward(self, inputs, target=None, data_samples=None, mode='tensor'):
        out = self.fc(self.drop(torch.stack(inputs)))
        if mode == 'loss':
            return dict(loss=((out - torch.stack(target))**2).mean())
        return out


class _RecordLosses(Hook):

    def __init__(self):
        self.losses = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses[runner.iter + 1] = float(outputs['loss'])


def _run(work_dir, train_cfg, load_from=None, runner_cls=ExactResumeRunner,
         checkpoint=None, name='run'):
    record = _RecordLosses()
    runner = runner_cls(
        model=_DropoutModel(),
        work_dir=str(work_dir),
        experiment_name=f'{name}_{work_dir.parent.name}',
        train_dataloader=dict(dataset=_NoisyData(),
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=train_cfg,
        default_hooks=dict(checkpoint=checkpoint or dict(
            type='AtomicCheckpointHook', interval=3, by_epoch=False, max_keep_ckpts=10)),
        custom_hooks=[record],
        randomness=dict(seed=0),
        resume=load_from is not None,
        load_from=load_from,
        default_scope='mmdet')
    runner.train()
    return runner, record.losses


def _assert_continues(reference, resumed, start):
    assert sorted(resumed) == list(range(start + 1, max(reference) + 1))
    for it, loss in resumed.items():
        assert loss == pytest.approx(reference[it], abs=1e-6), (it, loss, reference[it])


@pytest.fixture(scope='module', autouse=True)
def _weights_only_globals():
    allow_mmengine_checkpoint_globals()


def test_loop_cfg_mapping():
    assert exact_resume_loop_cfg(dict(by_epoch=True, max_epochs=2)) == dict(
        type=ExactResumeEpochBasedTrainLoop, max_epochs=2)
    assert exact_resume_loop_cfg(dict(type='IterBasedTrainLoop', max_iters=5))['type'] \
        is ExactResumeIterBasedTrainLoop
    assert exact_resume_loop_cfg(dict(type='ValLoop'))['type'] == 'ValLoop'
    with pytest.raises(KeyError, match='by_epoch'):
        exact_resume_loop_cfg(dict(max_iters=5))


@pytest.mark.parametrize('start', [3, 6, 9])  # mid-epoch 1, mid-epoch 2, mid-epoch 3
def test_epoch_loop_resumes_mid_epoch_exactly(tmp_path, start):
    train_cfg = dict(by_epoch=True, max_epochs=3)
    ref_runner, reference = _run(tmp_path / 'ref', train_cfg)
    assert isinstance(ref_runner.train_loop, ExactResumeEpochBasedTrainLoop)
    assert sorted(reference) == list(range(1, 3 * BATCHES_PER_EPOCH + 1))
    _, resumed = _run(tmp_path / 'resumed', train_cfg,
                      load_from=str(tmp_path / 'ref' / f'iter_{start}.pth'), name='resumed')
    _assert_continues(reference, resumed, start)


def test_epoch_loop_resumes_at_epoch_end_exactly(tmp_path):
    train_cfg = dict(by_epoch=True, max_epochs=3)
    checkpoint = dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=10)
    _, reference = _run(tmp_path / 'ref', train_cfg, checkpoint=checkpoint)
    _, resumed = _run(tmp_path / 'resumed', train_cfg, checkpoint=checkpoint,
                      load_from=str(tmp_path / 'ref' / 'epoch_1.pth'), name='resumed')
    _assert_continues(reference, resumed, BATCHES_PER_EPOCH)


def test_plain_epoch_loop_would_diverge(tmp_path):
    """What the exact loop fixes (guards the tests above): mmengine's loop
    restarts the epoch and draws other random numbers."""
    train_cfg = dict(by_epoch=True, max_epochs=3)
    _, reference = _run(tmp_path / 'ref', train_cfg, runner_cls=Runner)
    _, resumed = _run(tmp_path / 'resumed', train_cfg, runner_cls=Runner,
                      load_from=str(tmp_path / 'ref' / 'iter_6.pth'), name='resumed')
    common = sorted(set(resumed) & set(reference))
    assert any(abs(resumed[i] - reference[i]) > 1e-6 for i in common)


@pytest.mark.parametrize('start', [3, 6])
def test_iter_loop_resumes_exactly(tmp_path, start):
    train_cfg = dict(by_epoch=False, max_iters=10)
    ref_runner, reference = _run(tmp_path / 'ref', train_cfg)
    assert isinstance(ref_runner.train_loop, ExactResumeIterBasedTrainLoop)
    _, resumed = _run(tmp_path / 'resumed', train_cfg,
                      load_from=str(tmp_path / 'ref' / f'iter_{start}.pth'), name='resumed')
    _assert_continues(reference, resumed, start)


def _log_of(runner):
    with open(f'{runner.log_dir}/{runner.timestamp}.log', encoding='utf-8') as f:
        return f.read()


def test_checkpoint_without_rng_state_warns_at_resume(tmp_path):
    train_cfg = dict(by_epoch=True, max_epochs=2)
    _run(tmp_path / 'ref', train_cfg)
    ckpt = torch.load(tmp_path / 'ref' / 'iter_3.pth', weights_only=True)
    del ckpt['rng_state']
    torch.save(ckpt, tmp_path / 'old.pth')
    runner, resumed = _run(tmp_path / 'resumed', train_cfg,
                           load_from=str(tmp_path / 'old.pth'), name='resumed_old')
    assert min(resumed) == 4  # it still continues from the checkpoint's position
    log = _log_of(runner)
    assert 'holds no RNG state' in log and 'not bit-identically' in log
    assert 'data order differs' not in log


def test_load_from_and_test_do_not_warn_about_data_order(tmp_path):
    """``load_from`` without resume (fine-tuning) and ``tools/test.py``-style
    ``Runner.test`` runs are not resumes: no sampler warning (issue 24 #12)."""
    train_cfg = dict(by_epoch=True, max_epochs=1)
    _run(tmp_path / 'ref', train_cfg)
    ckpt = torch.load(tmp_path / 'ref' / 'iter_3.pth', weights_only=True)
    ckpt['meta']['sampler'] = dict(type='InfiniteSampler', seed=123, position=3)
    torch.save(ckpt, tmp_path / 'other_sampler.pth')
    runner = ExactResumeRunner(
        model=_DropoutModel(), work_dir=str(tmp_path / 'test'), experiment_name='test',
        test_dataloader=dict(dataset=_NoisyData(),
                             sampler=dict(type='DefaultSampler', shuffle=False),
                             batch_size=2, collate_fn=dict(type='pseudo_collate')),
        test_cfg=dict(), test_evaluator=dict(type='mmengine.DumpResults',
                                             out_file_path=str(tmp_path / 'out.pkl')),
        load_from=str(tmp_path / 'other_sampler.pth'), default_scope='mmdet')
    runner.test()
    log = _log_of(runner)
    assert 'Load checkpoint from' in log
    assert 'data order differs' not in log
    # resumed, the same checkpoint does warn
    train = ExactResumeRunner(
        model=_DropoutModel(), work_dir=str(tmp_path / 'train'), experiment_name='train',
        train_dataloader=dict(dataset=_NoisyData(),
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=train_cfg, randomness=dict(seed=0), resume=True,
        load_from=str(tmp_path / 'other_sampler.pth'), default_scope='mmdet')
    train.train()
    log = _log_of(train)
    assert 'InfiniteSampler (seed 123)' in log and 'data order differs' in log
