# Copyright (c) mmdensekd contributors. All rights reserved.
"""Verify that the distillation teacher stays frozen during training."""
import hashlib

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmdensekd.models.distillers.frozen_model import check_module_frozen
from mmdensekd.registry import HOOKS


def module_checksum(module: nn.Module) -> str:
    """SHA-256 of every parameter and buffer of ``module`` (names, dtypes,
    shapes and raw bytes): equal checksums mean bit-identical tensors.

    Args:
        module (nn.Module): e.g. the teacher.

    Returns:
        str: Hex digest.
    """
    digest = hashlib.sha256()
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        t = tensor.detach().contiguous().reshape(-1)
        digest.update(f'{name}|{t.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(t.view(torch.uint8).cpu().numpy().tobytes())
    return digest.hexdigest()


@HOOKS.register_module()
class TeacherFrozenCheckHook(Hook):
    """Check that the teacher is frozen: at train start (and every
    ``interval`` iterations) no teacher parameter requires grad and every
    teacher module (BatchNorm included) is in eval mode (the model's
    ``check_teacher_frozen``, else the same check on the module at
    ``teacher_attr``); every ``interval`` iterations and at train end the
    checksum of the teacher's parameters and buffers equals the one taken at
    start.

    Args:
        interval (int): Iterations between checks. Defaults to 100.
        teacher_attr (str): Attribute of the model holding the teacher.
            Defaults to ``'teacher'``.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 100, teacher_attr: str = 'teacher') -> None:
        if interval <= 0:
            raise ValueError(f'interval must be > 0, got {interval}')
        self.interval = interval
        self.teacher_attr = teacher_attr
        self.reference = None

    def _teacher(self, runner) -> nn.Module:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        teacher = getattr(model, self.teacher_attr, None)
        if not isinstance(teacher, nn.Module):
            raise TypeError(f'TeacherFrozenCheckHook: {type(model).__name__} has no teacher '
                            f'module at attribute {self.teacher_attr!r}')
        return teacher

    def _checksum(self, runner) -> str:
        """Checksum of the teacher, or of every model's ``teachers()``."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        teacher = self._teacher(runner)
        teachers = getattr(model, 'teachers', None)
        if self.teacher_attr == 'teacher' and callable(teachers):
            return '+'.join(module_checksum(m) for _, m in sorted(teachers().items()))
        return module_checksum(teacher)

    def _check_modes(self, runner) -> None:
        """Frozen-mode check: the model's own ``check_teacher_frozen`` when
        it has one (``TeacherStudentDistiller``), else the same check on the
        module at ``teacher_attr``."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        teacher = self._teacher(runner)
        check = getattr(model, 'check_teacher_frozen', None)
        if self.teacher_attr == 'teacher' and callable(check):
            check()
        else:
            check_module_frozen(teacher, self.teacher_attr)

    def _compare(self, runner, where: str) -> None:
        current = self._checksum(runner)
        if current != self.reference:
            raise RuntimeError(f'teacher parameters/buffers changed during training ({where}): '
                               f'checksum {self.reference[:16]} -> {current[:16]}')

    def before_train(self, runner) -> None:
        """Check modes and take the reference checksum."""
        self._check_modes(runner)
        self.reference = self._checksum(runner)
        runner.logger.info(f'teacher checksum at train start: {self.reference}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Compare every ``interval`` iterations (modes too)."""
        if self.every_n_train_iters(runner, self.interval):
            self._check_modes(runner)
            self._compare(runner, f'iter {runner.iter + 1}')

    def after_train(self, runner) -> None:
        """Final comparison."""
        self._compare(runner, 'train end')
        runner.logger.info(f'teacher checksum unchanged at train end: {self.reference}')
