# Copyright (c) mmdensekd contributors. All rights reserved.
"""Schedule (or stop) the distillation loss weights by iteration."""
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdensekd.registry import HOOKS

SCHEDULES = ('constant', 'linear', 'step')


@HOOKS.register_module()
class DistillLossWeightHook(Hook):
    """Set the distiller's distillation-loss scale before every iteration.

    The scale multiplies each selected ``distill.*`` term on top of its
    ``loss_weight``; at scale 0 for every term and ``supervision='gt'`` the
    distiller skips the teacher altogether. The scale is logged as
    ``distill_scale``.

    Schedules (``it`` = 0-based iteration):

    * ``'constant'``: 1.
    * ``'linear'``: ``start_factor`` -> 1 linearly over ``warmup_iters``
      iterations after ``start_at``, then 1.
    * ``'step'``: ``gamma ** (number of milestones <= it)``.

    Before ``start_at`` and from ``stop_at`` on, the scale is 0.

    Args:
        schedule (str): One of ``'constant'``, ``'linear'``, ``'step'``.
            Defaults to ``'constant'``.
        loss_names (Sequence[str], optional): Distillation loss keys to
            scale; all when None.
        start_factor (float): First factor of ``'linear'``. Defaults to 0.
        warmup_iters (int): Length of the ``'linear'`` ramp. Defaults to 0.
        milestones (Sequence[int]): Iterations of ``'step'``. Defaults to ().
        gamma (float): Factor per milestone. Defaults to 0.1.
        start_at (int): First iteration with distillation. Defaults to 0.
        stop_at (int, optional): First iteration without distillation.
            Defaults to None (never stops).
    """

    priority = 'NORMAL'

    def __init__(self,
                 schedule: str = 'constant',
                 loss_names: Optional[Sequence[str]] = None,
                 start_factor: float = 0.0,
                 warmup_iters: int = 0,
                 milestones: Sequence[int] = (),
                 gamma: float = 0.1,
                 start_at: int = 0,
                 stop_at: Optional[int] = None) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f'schedule must be one of {SCHEDULES}, got {schedule!r}')
        if warmup_iters < 0 or start_at < 0:
            raise ValueError('warmup_iters and start_at must be >= 0')
        if stop_at is not None and stop_at < start_at:
            raise ValueError(f'stop_at ({stop_at}) must be >= start_at ({start_at})')
        self.schedule = schedule
        self.loss_names = list(loss_names) if loss_names is not None else None
        self.start_factor = float(start_factor)
        self.warmup_iters = int(warmup_iters)
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.start_at = int(start_at)
        self.stop_at = stop_at

    def factor(self, it: int) -> float:
        """The scale at 0-based iteration ``it``."""
        if it < self.start_at or (self.stop_at is not None and it >= self.stop_at):
            return 0.0
        if self.schedule == 'linear':
            done = it - self.start_at
            if done < self.warmup_iters:
                return self.start_factor + (1.0 - self.start_factor) * done / self.warmup_iters
            return 1.0
        if self.schedule == 'step':
            return self.gamma**sum(1 for m in self.milestones if m <= it)
        return 1.0

    @staticmethod
    def _distiller(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_distill_loss_scale'):
            raise TypeError('DistillLossWeightHook needs a model with set_distill_loss_scale '
                            f'(e.g. TeacherStudentDistiller), got {type(model).__name__}')
        return model

    def before_train(self, runner) -> None:
        """Validate the model and the loss names."""
        model = self._distiller(runner)
        if self.loss_names is not None:
            unknown = [n for n in self.loss_names if n not in model.distill_losses]
            if unknown:
                raise KeyError(f'DistillLossWeightHook.loss_names {unknown} are not '
                               f'distillation losses of the model ({sorted(model.distill_losses)})')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Set and log the scale of this iteration."""
        scale = self.factor(runner.iter)
        self._distiller(runner).set_distill_loss_scale(scale, self.loss_names)
        runner.message_hub.update_scalar('train/distill_scale', scale)
