# Copyright (c) mmdensekd contributors. All rights reserved.
"""Stop (or skip) training steps whose loss terms or gradients are NaN / Inf."""
import math
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from torch import nn

from mmdensekd.registry import HOOKS

_ACTIONS = ('stop', 'skip')


class NonFiniteTrainingError(FloatingPointError):
    """Raised by :class:`NonFiniteGuardHook` when a run must stop."""


def _value(v) -> float:
    if isinstance(v, torch.Tensor):
        return float(v.detach().float().mean()) if v.numel() else 0.0
    if isinstance(v, (list, tuple)):
        return sum(_value(x) for x in v)
    return float(v)


def nonfinite_terms(losses: Dict[str, object]) -> List[str]:
    """Names of the loss terms holding a NaN or Inf value.

    Args:
        losses (dict): Raw loss dict of ``model(..., mode='loss')`` (tensors
            or lists of tensors) or the ``log_vars`` of ``parse_losses``.

    Returns:
        list[str]: Names of the terms containing ``'loss'`` (those
        ``parse_losses`` sums), in dict order.
    """
    bad = []
    for name, value in losses.items():
        if 'loss' not in name:  # diagnostics (accuracies...) do not backpropagate
            continue
        try:
            if not math.isfinite(_value(value)):
                bad.append(name)
        except (TypeError, ValueError):
            continue
    return bad


def nonfinite_state_keys(state_dict: Dict[str, object]) -> List[str]:
    """Keys of the floating-point tensors of ``state_dict`` that hold NaN/Inf.

    Args:
        state_dict (dict): e.g. ``checkpoint['state_dict']``.

    Returns:
        list[str]: The offending keys.
    """
    return [
        k for k, v in state_dict.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel()
        and not bool(torch.isfinite(v).all())
    ]


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Guard a training run against NaN / Inf loss terms and gradients.

    Every iteration the raw loss terms (``model.parse_losses`` input) are
    checked before the optimizer step and, when ``check_grads``, the
    gradients after the backward pass. On a non-finite value the hook logs
    the term (or parameter) and the iteration, then:

    * ``action='stop'``: raises :class:`NonFiniteTrainingError` before the
      optimizer step, so the weights stay finite and no checkpoint is written
      after the fault; ``last_checkpoint`` keeps pointing at the last good one;
    * ``action='skip'``: skips that optimizer step (gradients are zeroed and
      the buffers, e.g. BatchNorm statistics, are restored to their values
      before the step) and goes on; after ``max_skips`` skipped
      steps in total the run stops as with ``'stop'``.

    In distributed training the ranks agree (one all-reduce of a flag per
    step), so all of them skip or stop together and none waits forever.
    In any case a checkpoint whose weights hold NaN / Inf is refused
    (``before_save_checkpoint`` raises), so ``last_checkpoint`` never points
    at one. With ``AmpOptimWrapper`` non-finite gradients are left to the
    gradient scaler (skipping them is its job); loss terms are still checked.

    Args:
        action (str): ``'stop'`` (default) or ``'skip'``.
        max_skips (int): Skipped steps tolerated with ``action='skip'``
            before the run stops. Defaults to 10.
        check_grads (bool): Also check gradients. Defaults to True.
        enabled (bool): False turns the hook off (mmengine cannot remove a
            non-standard default hook with ``None``). Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'stop', max_skips: int = 10,
                 check_grads: bool = True, enabled: bool = True) -> None:
        if action not in _ACTIONS:
            raise ValueError(f'NonFiniteGuardHook: action must be one of {_ACTIONS}, '
                             f'got {action!r}')
        if not isinstance(max_skips, int) or isinstance(max_skips, bool) or max_skips < 0:
            raise ValueError(f'NonFiniteGuardHook: max_skips must be an int >= 0, got '
                             f'{max_skips!r}')
        if not isinstance(check_grads, bool):
            raise TypeError(f'NonFiniteGuardHook: check_grads must be a bool, got '
                            f'{check_grads!r}')
        if not isinstance(enabled, bool):
            raise TypeError(f'NonFiniteGuardHook: enabled must be a bool, got {enabled!r}')
        self.enabled = enabled
        self.action = action
        self.max_skips = max_skips
        self.check_grads = check_grads
        self.num_skipped = 0
        self._runner = None
        self._bad_terms: List[str] = []
        self._buffers: Optional[Dict[str, torch.Tensor]] = None
        self._patched: List[tuple] = []

    # -- patching ---------------------------------------------------------
    @staticmethod
    def _model(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _patch(self, obj, name: str, fn) -> None:
        had = name in vars(obj)
        setattr(obj, name, fn)
        self._patched.append((obj, name, had))

    def _unpatch(self) -> None:
        for obj, name, had in reversed(self._patched):
            if not had and name in vars(obj):
                delattr(obj, name)
        self._patched = []

    def before_train(self, runner) -> None:
        """Wrap ``parse_losses`` and the optimizer wrappers' update/step."""
        if not self.enabled:
            return
        self._runner = runner
        model = self._model(runner)
        parse_losses = model.parse_losses

        def guarded_parse_losses(losses):
            self._bad_terms = nonfinite_terms(losses)
            return parse_losses(losses)

        self._patch(model, 'parse_losses', guarded_parse_losses)
        wrappers = (runner.optim_wrapper.values()
                    if isinstance(runner.optim_wrapper, OptimWrapperDict) else
                    [runner.optim_wrapper])
        for wrapper in wrappers:
            if isinstance(wrapper, OptimWrapper):
                self._wrap_optimizer(wrapper)

    def _wrap_optimizer(self, wrapper: OptimWrapper) -> None:
        update_params, step = wrapper.update_params, wrapper.step

        def guarded_update_params(loss, *args, **kwargs):
            bad = list(self._bad_terms)
            if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss).all()):
                bad = bad or ['loss (total)']
            if get_world_size() > 1:
                # every rank must take the same decision, or the ranks that
                # run backward wait forever for the gradients of the others
                device = loss.device if isinstance(loss, torch.Tensor) else 'cpu'
                flag = torch.tensor([float(bool(bad))], device=device)
                all_reduce(flag, op='max')
                if flag.item() > 0 and not bad:
                    bad = ['(on another rank)']
            if bad:
                self._fault(f'loss term(s) {", ".join(bad)} non-finite')
                wrapper.zero_grad()
                return None
            return update_params(loss, *args, **kwargs)

        def guarded_step(*args, **kwargs):
            if self.check_grads and not isinstance(wrapper, AmpOptimWrapper):
                bad = self._nonfinite_grads(wrapper)
                if bad:
                    more = f' (+{len(bad) - 3} more)' if len(bad) > 3 else ''
                    self._fault(f'gradient of {", ".join(bad[:3])}{more} non-finite')
                    return None
            return step(*args, **kwargs)

        self._patch(wrapper, 'update_params', guarded_update_params)
        self._patch(wrapper, 'step', guarded_step)

    def _nonfinite_grads(self, wrapper: OptimWrapper) -> List[str]:
        params = [
            p for group in wrapper.optimizer.param_groups for p in group['params']
            if p.grad is not None
        ]
        if not params:
            return []
        # one device synchronisation for all tensors
        flags = [torch.isfinite(p.grad).all() for p in params]
        try:
            finite = torch.stack(flags).cpu()
        except RuntimeError:  # parameters on several devices
            finite = torch.tensor([bool(f) for f in flags])
        if bool(finite.all()):
            return []
        bad = [p for p, ok in zip(params, finite.tolist()) if not ok]
        names = {id(p): n for n, p in self._model(self._runner).named_parameters()}
        return [names.get(id(p), f'<parameter {tuple(p.shape)}>') for p in bad]

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Forget the terms of this iteration."""
        self._bad_terms = []

    def after_train(self, runner) -> None:
        """Remove the wrappers."""
        self._unpatch()
        self._runner = None

    # -- fault handling ---------------------------------------------------
    def _fault(self, what: str) -> None:
        runner = self._runner
        iteration = runner.iter + 1
        if self.action == 'skip' and self.num_skipped < self.max_skips:
            self.num_skipped += 1
            self._restore_buffers()
            runner.logger.warning(
                f'NonFiniteGuardHook: {what} at iteration {iteration}; optimizer step '
                f'skipped ({self.num_skipped}/{self.max_skips} skips used)')
            return
        reason = (f'more than max_skips={self.max_skips} skipped steps'
                  if self.action == 'skip' else "action='stop'")
        msg = (f'NonFiniteGuardHook: {what} at iteration {iteration}; training stopped '
               f'({reason}). No optimizer step was taken with these values; the last '
               'checkpoint (if any) holds finite weights. Lower the learning rate or '
               'check the data.')
        runner.logger.error(msg)
        self._unpatch()
        raise NonFiniteTrainingError(msg)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """With ``action='skip'``, keep a copy of the buffers."""
        if self.action != 'skip' or not self.enabled:
            return
        self._bad_terms = []
        self._buffers = {k: v.detach().clone() for k, v in self._model(runner).named_buffers()}

    def _restore_buffers(self) -> None:
        if not self._buffers:
            return
        with torch.no_grad():
            for k, v in self._model(self._runner).named_buffers():
                if k in self._buffers:
                    v.copy_(self._buffers[k])

    # -- checkpoints ------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save non-finite weights; store the skip count."""
        if not self.enabled:
            return
        bad = nonfinite_state_keys(checkpoint.get('state_dict', {}))
        if bad:
            raise NonFiniteTrainingError(
                f'NonFiniteGuardHook: refusing to save a checkpoint at iteration '
                f'{runner.iter + 1}: {len(bad)} tensors hold NaN/Inf (e.g. {bad[:3]})')
        checkpoint.setdefault('meta', {})['nonfinite_skips'] = self.num_skipped

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the skip count of a resumed run."""
        self.num_skipped = int(checkpoint.get('meta', {}).get('nonfinite_skips', 0))
