# Copyright (c) mmdensekd contributors. All rights reserved.
import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmdensekd.engine.hooks import TeacherFrozenCheckHook
from mmdensekd.engine.hooks.teacher_frozen_check_hook import module_checksum


class _Model(nn.Module):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.teacher = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        self.student = nn.Conv2d(3, 4, 3)


def _runner(model):
    return SimpleNamespace(model=model, iter=0, logger=logging.getLogger('test_frozen'))


def test_checksum_is_bitwise():
    m = _Model()
    ref = module_checksum(m.teacher)
    assert ref == module_checksum(m.teacher)
    with torch.no_grad():
        m.teacher[0].weight[0, 0, 0, 0] += 1e-7
    assert module_checksum(m.teacher) != ref
    with torch.no_grad():
        m.teacher[0].weight[0, 0, 0, 0] -= 1e-7
    m.teacher[1].num_batches_tracked += 1  # buffers count too
    assert module_checksum(m.teacher) != ref


def test_passes_when_frozen_and_raises_on_change():
    model = _Model()
    runner = _runner(model)
    hook = TeacherFrozenCheckHook(interval=1)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    with torch.no_grad():
        model.student.weight.add_(1.0)  # the student may change
    hook.after_train(runner)
    with torch.no_grad():
        model.teacher[1].running_mean.add_(0.1)
    with pytest.raises(RuntimeError, match='teacher parameters/buffers changed'):
        hook.after_train_iter(runner, 0)


def test_raises_on_trainable_or_train_mode_teacher():
    model = _Model()
    model.teacher[1].train()
    with pytest.raises(RuntimeError, match=r'train mode.*1'):
        TeacherFrozenCheckHook().before_train(_runner(model))
    model = _Model()
    model.teacher[0].weight.requires_grad_(True)
    with pytest.raises(RuntimeError, match='0.weight'):
        TeacherFrozenCheckHook().before_train(_runner(model))
    with pytest.raises(TypeError, match="attribute 'teacher'"):
        TeacherFrozenCheckHook().before_train(_runner(nn.Linear(1, 1)))


def test_uses_the_models_check_teacher_frozen():
    model = _Model()
    calls = []
    model.check_teacher_frozen = lambda: calls.append('checked')
    model.teacher[1].train()  # the model's own check decides (here: a stub that passes)
    hook = TeacherFrozenCheckHook(interval=1)
    hook.before_train(_runner(model))
    hook.after_train_iter(_runner(model), 0)
    assert calls == ['checked', 'checked']
    # a distiller: its check_teacher_frozen raises through the hook
    from mmdensekd.models.distillers import PseudoLabeler, TeacherStudentDistiller
    distiller = TeacherStudentDistiller.__new__(TeacherStudentDistiller)
    nn.Module.__init__(distiller)
    distiller.teacher = _Model().teacher
    distiller.pseudo_labeler = PseudoLabeler()
    distiller.teacher[0].train()
    with pytest.raises(RuntimeError, match=r"teacher modules are in train mode.*'0'"):
        TeacherFrozenCheckHook().before_train(_runner(distiller))


def test_checksum_covers_every_teacher():
    """A model with extra (pseudo-label) teachers: a change in any of them
    is caught."""
    model = _Model()
    model.extra = _Model().teacher
    model.teachers = lambda: {'teacher': model.teacher, 'extra_teachers.0': model.extra}
    runner = _runner(model)
    hook = TeacherFrozenCheckHook(interval=1)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    with torch.no_grad():
        model.extra[1].running_var.mul_(2.0)
    with pytest.raises(RuntimeError, match='teacher parameters/buffers changed'):
        hook.after_train_iter(runner, 0)
