# Copyright (c) mmdensekd contributors. All rights reserved.
"""A ``CheckpointHook`` whose files survive a kill at any moment and whose
resume checkpoints continue a run exactly."""
import difflib
import glob
import inspect
import os
import os.path as osp
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from mmdensekd.registry import HOOKS
from mmdensekd.utils.checkpoint_compat import allow_mmengine_checkpoint_globals
from mmdensekd.utils.misc import PARTIAL_SUFFIX, atomic_write_text, partial_name

from .rng_state import ResumableIterator, get_rng_state


def _fsync_file(path: str) -> None:
    with open(path, 'rb') as f:
        os.fsync(f.fileno())


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. directories cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_runner_save(save_fn: Callable, out_dir: str, filename: str, *args,
                       **kwargs) -> None:
    """Call ``runner.save_checkpoint``-like ``save_fn`` atomically.

    The checkpoint is written to a hidden ``.<filename>.partial`` file in
    ``out_dir``, flushed to disk and renamed over ``filename`` with
    ``os.replace`` (atomic on POSIX and Windows), so ``filename`` is either the
    old complete file or the new complete file, never a truncated one.

    Args:
        save_fn (Callable): ``Runner.save_checkpoint`` (rank-0 only).
        out_dir (str): Local directory of the checkpoint.
        filename (str): Final file name inside ``out_dir``.
        *args, **kwargs: Passed to ``save_fn``.
    """
    tmp_name = partial_name(filename)
    save_fn(out_dir, tmp_name, *args, **kwargs)
    if not is_main_process():
        return
    tmp, final = osp.join(out_dir, tmp_name), osp.join(out_dir, filename)
    if not osp.isfile(tmp):
        raise RuntimeError(f'checkpoint was not written: expected {tmp}')
    _fsync_file(tmp)
    os.replace(tmp, final)
    _fsync_dir(out_dir)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``mmengine.hooks.CheckpointHook`` with crash-safe writes.

    Same arguments and behaviour as ``CheckpointHook`` (use it as
    ``default_hooks.checkpoint``), with three differences when the checkpoint
    directory is local:

    * each checkpoint (periodic and best) is written to a hidden temporary
      file and moved into place with ``os.replace``, so a kill while saving
      never leaves a corrupt ``iter_*.pth`` / ``epoch_*.pth``;
    * ``last_checkpoint`` (what ``--resume`` reads) is replaced atomically and
      only after the new checkpoint is complete;
    * checkpoints beyond ``max_keep_ckpts`` are deleted only after the new
      one is complete (``CheckpointHook`` deletes them first).

    It also allow-lists the globals of mmengine resume checkpoints for
    ``torch.load(weights_only=True)`` (see
    :mod:`mmdensekd.utils.checkpoint_compat`). Remote backends fall back to
    the parent's behaviour.

    Exact resume (``save_rng_state=True``, iteration-based loops): every
    checkpoint written during training also holds ``rng_state`` (Python,
    numpy, torch and CUDA generators, see
    :mod:`mmdensekd.engine.hooks.rng_state`) and ``meta['sampler']`` (the
    sampler's type, seed and the number of batches drawn). On ``--resume`` the
    loop replays the drawn batches (so the sampler and the data-loader
    workers stand where they stood) and the generators are restored right
    before the first new batch, so a resumed CPU run with deterministic
    settings logs the same losses as an uninterrupted one. The uninterrupted
    run restores the same snapshot before its next batch, so whatever runs
    between a save and the next batch (logging, validation) changes nothing.

    Options are checked when the hook is built: an unknown keyword (e.g. a
    misspelt ``intervall``), which ``CheckpointHook`` would only pass to
    ``save_checkpoint`` at the first save, is a ``TypeError`` naming it and
    the closest valid option.

    Args:
        save_rng_state (bool): Store and restore the generator states and
            sampler position. Defaults to True.
        *args, **kwargs: Arguments of ``mmengine.hooks.CheckpointHook``.
    """

    def __init__(self, *args, save_rng_state: bool = True, **kwargs) -> None:
        valid = [
            n for n, p in inspect.signature(CheckpointHook.__init__).parameters.items()
            if n != 'self' and p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, valid + ['save_rng_state'], n=1)
                hints.append(f'{name!r}' + (f' (did you mean {close[0]!r}?)' if close else ''))
            raise TypeError(f'AtomicCheckpointHook (default_hooks.checkpoint): unknown '
                            f'option(s) {", ".join(hints)}; valid options: '
                            f'{", ".join(valid + ["save_rng_state"])}')
        if not isinstance(save_rng_state, bool):
            raise TypeError(f'AtomicCheckpointHook: save_rng_state must be a bool, got '
                            f'{save_rng_state!r}')
        super().__init__(*args, **kwargs)
        self.save_rng_state = save_rng_state
        self._resumed_rng: Optional[dict] = None
        self._resumed_iter = 0
        allow_mmengine_checkpoint_globals()

    @property
    def _atomic(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def before_train(self, runner) -> None:
        """Set up as the parent, remove partial files of killed runs and wrap
        the loop's data-loader iterator for exact resume."""
        super().before_train(runner)
        if self._atomic and is_main_process() and osp.isdir(self.out_dir):
            for path in glob.glob(osp.join(self.out_dir, f'.*{PARTIAL_SUFFIX}')):
                os.remove(path)
                runner.logger.info(f'removed partial checkpoint {path} of an interrupted run')
        loop = getattr(runner, '_train_loop', None)
        if not self.save_rng_state or not hasattr(loop, 'dataloader_iterator'):
            return
        # loop.iter > 0 only after a resume (``load_from`` alone keeps it at 0)
        skip = loop.iter
        state = self._resumed_rng if skip and skip == self._resumed_iter else None
        if skip and state is None:
            runner.logger.warning(
                'AtomicCheckpointHook: the resumed checkpoint holds no RNG state (written '
                'before exact resume existed); the run continues, but not bit-identically')
        if not isinstance(loop.dataloader_iterator, ResumableIterator):
            loop.dataloader_iterator = ResumableIterator(loop.dataloader_iterator, skip=skip,
                                                         state=state)
        self._resumed_rng = None

    @staticmethod
    def _sampler_info(runner, position: int) -> dict:
        loader = getattr(getattr(runner, '_train_loop', None), 'dataloader', None)
        sampler = getattr(loader, 'sampler', None)
        batch_sampler = getattr(loader, 'batch_sampler', None)
        if sampler is None and batch_sampler is not None:
            sampler = getattr(batch_sampler, 'sampler', None)
        seed = getattr(sampler, 'seed', None)
        return dict(type=type(sampler).__name__, seed=None if seed is None else int(seed),
                    position=int(position))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add the generator states and sampler position of a training run."""
        loop = getattr(runner, '_train_loop', None)
        iterator = getattr(loop, 'dataloader_iterator', None)
        if not self.save_rng_state or not isinstance(iterator, ResumableIterator):
            return
        # a second checkpoint of the same iteration (e.g. the best one, after
        # validation) carries the same snapshot as the first
        state = iterator.state if iterator.state is not None else get_rng_state()
        checkpoint['rng_state'] = state
        checkpoint.setdefault('meta', {})['sampler'] = self._sampler_info(
            runner, checkpoint.get('meta', {}).get('iter', runner.iter + 1))
        iterator.restore_before_next(state)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the generator states of a resumed checkpoint for
        :meth:`before_train`; check that the sampler matches."""
        if not self.save_rng_state:
            return
        self._resumed_rng = checkpoint.get('rng_state')
        meta = checkpoint.get('meta', {})
        self._resumed_iter = int(meta.get('iter', 0) or 0)
        saved = meta.get('sampler')
        if saved:
            now = self._sampler_info(runner, saved.get('position', 0))
            if (now['type'], now['seed']) != (saved.get('type'), saved.get('seed')):
                runner.logger.warning(
                    f'AtomicCheckpointHook: the checkpoint was written with sampler '
                    f'{saved.get("type")} (seed {saved.get("seed")}), this run uses '
                    f'{now["type"]} (seed {now["seed"]}): the resumed data order differs')

    @contextmanager
    def _atomic_runner(self, runner) -> Iterator[None]:
        """Route ``runner.save_checkpoint`` through :func:`atomic_runner_save`."""
        if not self._atomic or '_mmdensekd_atomic' in vars(runner):
            yield
            return
        original = runner.save_checkpoint

        def save(out_dir, filename, *args, **kwargs):
            atomic_runner_save(original, out_dir, filename, *args, **kwargs)

        runner.save_checkpoint = save
        runner._mmdensekd_atomic = True
        try:
            yield
        finally:
            del runner.save_checkpoint
            del runner._mmdensekd_atomic

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._atomic_runner(runner):
            super()._save_best_checkpoint(runner, metrics)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._atomic:
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        with self._atomic_runner(runner):
            runner.save_checkpoint(
                self.out_dir,
                ckpt_filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old_step in stale:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if path == self.last_ckpt:
                continue
            if osp.isfile(path):
                os.remove(path)
            elif osp.isdir(path):  # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(path)
