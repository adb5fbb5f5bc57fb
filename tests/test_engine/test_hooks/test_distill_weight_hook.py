# Copyright (c) mmdensekd contributors. All rights reserved.
from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub

from mmdensekd.engine.hooks import DistillLossWeightHook
from mmdensekd.registry import HOOKS


class _Distiller:

    def __init__(self):
        self.distill_losses = {'loss_transfer': None, 'loss_kl': None}
        self.scales = {}

    def set_distill_loss_scale(self, scale, names=None):
        for n in names or list(self.distill_losses):
            self.scales[n] = scale


def _runner(it, model=None):
    return SimpleNamespace(model=model or _Distiller(), iter=it,
                           message_hub=MessageHub.get_instance('test_distill_weight_hook'))


def test_schedules():
    linear = DistillLossWeightHook(schedule='linear', start_factor=0.2, warmup_iters=4)
    assert [linear.factor(i) for i in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1, 1])
    step = DistillLossWeightHook(schedule='step', milestones=[2, 4], gamma=0.5)
    assert [step.factor(i) for i in range(6)] == pytest.approx([1, 1, .5, .5, .25, .25])
    stop = DistillLossWeightHook(start_at=1, stop_at=3)
    assert [stop.factor(i) for i in range(5)] == [0, 1, 1, 0, 0]
    with pytest.raises(ValueError, match='schedule must be one of'):
        DistillLossWeightHook(schedule='cosine')
    with pytest.raises(ValueError, match='stop_at'):
        DistillLossWeightHook(start_at=5, stop_at=2)
    assert HOOKS.get('DistillLossWeightHook') is DistillLossWeightHook


def test_sets_and_logs_scale():
    hook = DistillLossWeightHook(stop_at=2, loss_names=['loss_kl'])
    runner = _runner(0)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    assert runner.model.scales == {'loss_kl': 1.0}
    runner.iter = 2
    hook.before_train_iter(runner, 2)
    assert runner.model.scales == {'loss_kl': 0.0}
    assert runner.message_hub.get_scalar('train/distill_scale').current() == 0.0


def test_wiring_errors():
    with pytest.raises(KeyError, match='loss_nope'):
        DistillLossWeightHook(loss_names=['loss_nope']).before_train(_runner(0))
    with pytest.raises(TypeError, match='set_distill_loss_scale'):
        DistillLossWeightHook().before_train_iter(_runner(0, model=object()), 0)
