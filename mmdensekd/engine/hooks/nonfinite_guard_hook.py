# Copyright (c) mmdensekd contributors. All rights reserved.
"""Stop (or skip) training steps whose inputs, loss terms, gradients or
buffers are NaN / Inf or absurdly large."""
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from torch import nn

from mmdensekd.registry import HOOKS

_ACTIONS = ('stop', 'skip')
#: metainfo keys naming a sample, in the order they are reported
_SAMPLE_KEYS = ('img_path', 'csi_path', 'img_id', 'sample_idx')


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


def _per_sample_tensors(inputs, prefix: str = 'inputs'):
    """``(name, sample index, tensor)`` of the floating-point tensors of a
    batch's ``inputs`` (a list per sample, a stacked tensor or a dict of
    modalities)."""
    if isinstance(inputs, dict):
        for key, value in inputs.items():
            yield from _per_sample_tensors(value, key)
    elif isinstance(inputs, torch.Tensor):
        if inputs.is_floating_point() and inputs.numel():
            if inputs.dim() == 0:
                yield prefix, 0, inputs
            else:
                for i in range(inputs.shape[0]):
                    yield prefix, i, inputs[i]
    elif isinstance(inputs, (list, tuple)):
        for i, value in enumerate(inputs):
            if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                yield prefix, i, value


def describe_samples(data_batch: Optional[dict], indices: Optional[Sequence[int]] = None) -> str:
    """``'sample i (img_path=..., csi_path=...)'`` for samples of a batch.

    Args:
        data_batch (dict, optional): The batch of the dataloader.
        indices (Sequence[int], optional): Sample indices; all by default.

    Returns:
        str: The description ('' when the batch has no data samples).
    """
    samples = (data_batch or {}).get('data_samples') if isinstance(data_batch, dict) else None
    if not samples:
        return ''
    indices = range(len(samples)) if indices is None else indices
    parts = []
    for i in indices:
        meta = getattr(samples[i], 'metainfo', {}) if i < len(samples) else {}
        named = [f'{k}={meta[k]}' for k in _SAMPLE_KEYS if k in meta]
        parts.append(f'sample {i}' + (f' ({", ".join(named)})' if named else ''))
    return '; '.join(parts)


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Guard a training run against NaN / Inf (or absurd) values.

    Every iteration it checks, through documented hook points only (mmengine
    hook methods, ``torch.nn.Module.register_forward_hook`` on the model and
    ``torch.optim.Optimizer.register_step_pre_hook`` on each optimizer):

    1. the batch's floating-point inputs (images, CSI), before the forward
       pass: a NaN / Inf value or ``max |x| > max_input_abs`` (a finite but
       absurd CSI frame that would overflow BatchNorm statistics);
    2. the raw loss terms (the dict ``model(..., mode='loss')`` returns),
       before the backward pass;
    3. the gradients (``check_grads``), right before the optimizer step;
    4. the model's buffers (e.g. BatchNorm running statistics), after the
       step.

    Errors name the offending inputs' samples (``img_path`` / ``csi_path`` /
    ``img_id`` / ``sample_idx`` of their metainfo), loss terms, parameters or
    buffers, and the iteration. On a fault:

    * ``action='stop'``: raises :class:`NonFiniteTrainingError` at once; an
      input, loss or gradient fault stops before the optimizer step, so the
      weights stay finite; a buffer fault stops before any checkpoint holds
      it. ``last_checkpoint`` keeps pointing at the last good checkpoint;
    * ``action='skip'``: the optimizer step of that iteration is skipped (an
      optimizer then sees no gradient) and the buffers are put back to their
      values before the iteration; after ``max_skips`` skipped iterations the
      run stops as with ``'stop'``.

    In distributed training the ranks agree (a small all-reduce of a flag per
    check), so all of them skip or stop together and none waits forever.
    In any case a checkpoint whose weights hold NaN / Inf is refused
    (``before_save_checkpoint`` raises). With ``AmpOptimWrapper``
    non-finite gradients are left to the gradient scaler (skipping them is its
    job); inputs, loss terms and buffers are still checked.

    Args:
        action (str): ``'stop'`` (default) or ``'skip'``.
        max_skips (int): Skipped steps tolerated with ``action='skip'``
            before the run stops. Defaults to 10.
        check_grads (bool): Also check gradients. Defaults to True.
        max_input_abs (float, optional): Largest ``|x|`` allowed in a
            floating-point input tensor; None checks only for NaN / Inf.
            Defaults to 1e8 (squares of larger values approach float32's
            range in BatchNorm variances).
        check_buffers (bool): Check the buffers after each step. Defaults
            to True.
        enabled (bool): False turns the hook off (mmengine cannot remove a
            non-standard default hook with ``None``). Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'stop', max_skips: int = 10,
                 check_grads: bool = True, max_input_abs: Optional[float] = 1e8,
                 check_buffers: bool = True, enabled: bool = True) -> None:
        if action not in _ACTIONS:
            raise ValueError(f'NonFiniteGuardHook: action must be one of {_ACTIONS}, '
                             f'got {action!r}')
        if not isinstance(max_skips, int) or isinstance(max_skips, bool) or max_skips < 0:
            raise ValueError(f'NonFiniteGuardHook: max_skips must be an int >= 0, got '
                             f'{max_skips!r}')
        for name, value in (('check_grads', check_grads), ('check_buffers', check_buffers),
                            ('enabled', enabled)):
            if not isinstance(value, bool):
                raise TypeError(f'NonFiniteGuardHook: {name} must be a bool, got {value!r}')
        if max_input_abs is not None and (isinstance(max_input_abs, bool) or not isinstance(
                max_input_abs, (int, float)) or not max_input_abs > 0):
            raise ValueError('NonFiniteGuardHook: max_input_abs must be a number > 0 or None, '
                             f'got {max_input_abs!r}')
        self.enabled = enabled
        self.action = action
        self.max_skips = max_skips
        self.check_grads = check_grads
        self.max_input_abs = None if max_input_abs is None else float(max_input_abs)
        self.check_buffers = check_buffers
        self.num_skipped = 0
        self.runner = None
        self.fault: Optional[str] = None
        self.data_batch: Optional[dict] = None
        self.buffers: Optional[Dict[str, torch.Tensor]] = None
        self.handles: list = []
        self.param_names: Dict[int, str] = {}

    # -- set up -----------------------------------------------------------
    @staticmethod
    def unwrap(model: nn.Module) -> nn.Module:
        """The model inside a model wrapper (DDP...)."""
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        """Register the forward hook on the model and a step pre-hook on
        each optimizer."""
        if not self.enabled:
            return
        self.remove_handles()
        self.runner = runner
        model = self.unwrap(runner.model)
        self.param_names = {id(p): n for n, p in model.named_parameters()}
        self.handles.append(model.register_forward_hook(self.check_losses))
        wrappers = (runner.optim_wrapper.values()
                    if isinstance(runner.optim_wrapper, OptimWrapperDict) else
                    [runner.optim_wrapper])
        for wrapper in wrappers:
            if isinstance(wrapper, OptimWrapper):
                self.handles.append(wrapper.optimizer.register_step_pre_hook(
                    self.make_step_pre_hook(wrapper)))

    def remove_handles(self) -> None:
        """Remove the torch hooks registered by :meth:`before_train`."""
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def after_train(self, runner) -> None:
        """Remove the torch hooks."""
        self.remove_handles()
        self.runner = None

    # -- agreement across ranks -------------------------------------------
    @staticmethod
    def any_rank(flag: bool, device) -> bool:
        """Whether ``flag`` is set on any rank (one all-reduce when
        distributed)."""
        if get_world_size() <= 1:
            return flag
        tensor = torch.tensor([float(flag)], device=device)
        all_reduce(tensor, op='max')
        return bool(tensor.item() > 0)

    def device(self):
        """Device of the model's parameters (for the all-reduce flags)."""
        for p in self.unwrap(self.runner.model).parameters():
            return p.device
        return 'cpu'

    # -- 1. inputs ----------------------------------------------------------
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Check the batch's inputs; with ``action='skip'``, copy the
        buffers."""
        if not self.enabled:
            return
        self.runner = runner
        self.fault = None
        self.data_batch = data_batch if isinstance(data_batch, dict) else None
        if self.action == 'skip':
            self.buffers = {k: v.detach().clone()
                            for k, v in self.unwrap(runner.model).named_buffers()}
        problems = self.input_problems(self.data_batch)
        if self.any_rank(bool(problems), self.device()):
            what = '; '.join(problems[:3]) if problems else 'an input (on another rank)'
            more = f' (+{len(problems) - 3} more)' if len(problems) > 3 else ''
            self.handle_fault(f'{what}{more}', before_step=True)

    def input_problems(self, data_batch: Optional[dict]) -> List[str]:
        """Descriptions of the non-finite or too large input tensors.

        Args:
            data_batch (dict, optional): The batch (``inputs`` and
                ``data_samples``).

        Returns:
            list[str]: One entry per offending (input, sample).
        """
        if not data_batch or 'inputs' not in data_batch:
            return []
        problems = []
        for name, idx, tensor in _per_sample_tensors(data_batch['inputs']):
            finite = bool(torch.isfinite(tensor).all())
            peak = float(tensor.detach().abs().max()) if finite else math.inf
            if finite and (self.max_input_abs is None or peak <= self.max_input_abs):
                continue
            value = 'NaN/Inf values' if not finite else \
                f'max |x| = {peak:.3g} > max_input_abs={self.max_input_abs:.3g}'
            sample = describe_samples(data_batch, [idx]) or f'sample {idx}'
            problems.append(f'input {name!r} of {sample} has {value}')
        return problems

    # -- 2. loss terms ------------------------------------------------------
    def check_losses(self, module: nn.Module, args, output) -> None:
        """Forward hook: check the raw loss terms of a training forward."""
        if not (self.enabled and module.training and isinstance(output, dict)
                and any('loss' in k for k in output)):
            return
        bad = nonfinite_terms(output)
        device = next((v.device for v in output.values() if isinstance(v, torch.Tensor)),
                      self.device())
        if self.any_rank(bool(bad), device) and self.fault is None:
            terms = ', '.join(bad) if bad else '(on another rank)'
            self.handle_fault(f'loss term(s) {terms} non-finite', before_step=True)

    # -- 3. gradients -------------------------------------------------------
    def make_step_pre_hook(self, wrapper: OptimWrapper):
        """The step pre-hook of ``wrapper``'s optimizer."""

        def pre_step(optimizer, args, kwargs):
            if self.fault is None and self.check_grads and not isinstance(
                    wrapper, AmpOptimWrapper):
                bad = self.nonfinite_grads(optimizer)
                if bad:  # gradients are all-reduced: the ranks agree
                    more = f' (+{len(bad) - 3} more)' if len(bad) > 3 else ''
                    self.handle_fault(f'gradient of {", ".join(bad[:3])}{more} non-finite',
                                      before_step=True)
            if self.fault is not None:  # skip: an optimizer ignores params without grad
                for group in optimizer.param_groups:
                    for p in group['params']:
                        p.grad = None

        return pre_step

    def nonfinite_grads(self, optimizer) -> List[str]:
        """Names of the parameters whose gradient holds NaN / Inf."""
        params = [p for group in optimizer.param_groups for p in group['params']
                  if p.grad is not None]
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
        return [self.param_names.get(id(p), f'<parameter {tuple(p.shape)}>')
                for p, ok in zip(params, finite.tolist()) if not ok]

    # -- 4. buffers ---------------------------------------------------------
    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Check the buffers; after a skipped step, restore them."""
        if not self.enabled:
            return
        if self.check_buffers and self.fault is None:
            bad = self.nonfinite_buffers(self.unwrap(runner.model))
            if self.any_rank(bool(bad), self.device()):
                more = f' (+{len(bad) - 3} more)' if len(bad) > 3 else ''
                names = ', '.join(bad[:3]) + more if bad else '(on another rank)'
                samples = describe_samples(self.data_batch)
                self.handle_fault(f'buffer(s) {names} became non-finite'
                                  + (f' on the batch of {samples}' if samples else ''),
                                  before_step=False)
        if self.fault is not None:
            self.restore_buffers()
        self.fault = None
        self.data_batch = None

    @staticmethod
    def nonfinite_buffers(model: nn.Module) -> List[str]:
        """Names of the floating-point buffers holding NaN / Inf (one device
        synchronisation when all are finite)."""
        buffers = [(k, v) for k, v in model.named_buffers()
                   if v.is_floating_point() and v.numel()]
        if not buffers:
            return []
        flags = [torch.isfinite(v).all() for _, v in buffers]
        try:
            if bool(torch.stack(flags).all()):
                return []
        except RuntimeError:  # buffers on several devices
            pass
        return nonfinite_state_keys(dict(buffers))

    # -- fault handling ---------------------------------------------------
    def handle_fault(self, what: str, before_step: bool) -> None:
        """Skip (log, count) or stop (raise) on a fault at this iteration.

        Raises:
            NonFiniteTrainingError: With ``action='stop'`` or when
                ``max_skips`` is used up.
        """
        runner = self.runner
        iteration = runner.iter + 1
        if self.action == 'skip' and self.num_skipped < self.max_skips:
            self.num_skipped += 1
            self.fault = what
            done = ('optimizer step skipped' if before_step else
                    'buffers restored to their values before the iteration')
            runner.logger.warning(
                f'NonFiniteGuardHook: {what} at iteration {iteration}; {done} '
                f'({self.num_skipped}/{self.max_skips} skips used)')
            return
        reason = (f'more than max_skips={self.max_skips} skipped steps'
                  if self.action == 'skip' else "action='stop'")
        state = ('No optimizer step was taken with these values; the last checkpoint '
                 '(if any) holds finite weights.' if before_step else
                 'No checkpoint was written with these values; the last checkpoint (if '
                 'any) is finite.')
        msg = (f'NonFiniteGuardHook: {what} at iteration {iteration}; training stopped '
               f'({reason}). {state} Lower the learning rate or check the data.')
        runner.logger.error(msg)
        self.remove_handles()
        raise NonFiniteTrainingError(msg)

    def restore_buffers(self) -> None:
        """Put the buffers back to the copy taken before the iteration."""
        if not self.buffers:
            return
        with torch.no_grad():
            for k, v in self.unwrap(self.runner.model).named_buffers():
                if k in self.buffers:
                    v.copy_(self.buffers[k])

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
