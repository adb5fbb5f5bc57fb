# Copyright (c) mmdensekd contributors. All rights reserved.
"""A ``CheckpointHook`` whose files survive a kill at any moment."""
import glob
import os
import os.path as osp
from contextlib import contextmanager
from typing import Callable, Iterator

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from mmdensekd.registry import HOOKS
from mmdensekd.utils.checkpoint_compat import allow_mmengine_checkpoint_globals
from mmdensekd.utils.misc import PARTIAL_SUFFIX, atomic_write_text, partial_name


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
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        allow_mmengine_checkpoint_globals()

    @property
    def _atomic(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def before_train(self, runner) -> None:
        """Set up as the parent, then remove partial files of killed runs."""
        super().before_train(runner)
        if self._atomic and is_main_process() and osp.isdir(self.out_dir):
            for path in glob.glob(osp.join(self.out_dir, f'.*{PARTIAL_SUFFIX}')):
                os.remove(path)
                runner.logger.info(f'removed partial checkpoint {path} of an interrupted run')

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
