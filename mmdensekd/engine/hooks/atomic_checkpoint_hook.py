# Copyright (c) mmdensekd contributors. All rights reserved.
"""A ``CheckpointHook`` whose files survive a kill at any moment."""
import difflib
import glob
import inspect
import os
import os.path as osp
import re
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook

from mmdensekd.registry import HOOKS
from mmdensekd.utils.checkpoint_compat import allow_mmengine_checkpoint_globals
from mmdensekd.utils.misc import PARTIAL_SUFFIX, atomic_write_text

from ..fileio import AtomicLocalBackend

#: ``backend_args`` of the atomic local storage backend
ATOMIC_BACKEND_ARGS = dict(backend='atomic_local')


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``mmengine.hooks.CheckpointHook`` with crash-safe writes.

    Same arguments and behaviour as ``CheckpointHook`` (use it as
    ``default_hooks.checkpoint``). When the checkpoint directory is local and
    no ``backend_args`` are given, it saves through the
    :class:`~mmdensekd.engine.fileio.AtomicLocalBackend` storage backend
    (``backend_args=dict(backend='atomic_local')``), so that:

    * each checkpoint (periodic and best) is written to a hidden temporary
      file and moved into place with ``os.replace``: a kill while saving
      never leaves a corrupt ``iter_*.pth`` / ``epoch_*.pth``; a failed write
      (e.g. a full disk) removes the temporary file and raises an ``OSError``
      naming the checkpoint;
    * checkpoints beyond ``max_keep_ckpts`` (and the previous best one) are
      deleted only after the new one is complete (``CheckpointHook`` deletes
      them first).

    Before training it removes the temporary files of an interrupted run and
    repairs a ``last_checkpoint`` (what ``--resume`` reads) that is empty or
    names a missing file, pointing it at the newest complete checkpoint. It
    also allow-lists the globals of mmengine resume checkpoints for
    ``torch.load(weights_only=True)`` (see
    :mod:`mmdensekd.utils.checkpoint_compat`). Other backends (given with
    ``backend_args``) keep the parent's behaviour.

    Exact resume (generator states and sampler position in each checkpoint)
    is the training loop's job: see
    :mod:`mmdensekd.engine.runner.exact_resume_loops`.

    Options are checked when the hook is built: an unknown keyword (e.g. a
    misspelt ``intervall``), which ``CheckpointHook`` would only pass to
    ``save_checkpoint`` at the first save, is a ``TypeError`` naming it and
    the closest valid option.

    Args:
        *args, **kwargs: Arguments of ``mmengine.hooks.CheckpointHook``.
    """

    def __init__(self, *args, **kwargs) -> None:
        valid = [
            n for n, p in inspect.signature(CheckpointHook.__init__).parameters.items()
            if n != 'self' and p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, valid, n=1)
                hints.append(f'{name!r}' + (f' (did you mean {close[0]!r}?)' if close else ''))
            raise TypeError(f'AtomicCheckpointHook (default_hooks.checkpoint): unknown '
                            f'option(s) {", ".join(hints)}; valid options: {", ".join(valid)}')
        bound = inspect.signature(CheckpointHook.__init__).bind(None, *args, **kwargs)
        out_dir = bound.arguments.get('out_dir')
        local = out_dir is None or '://' not in str(out_dir)
        if (local and bound.arguments.get('backend_args') is None
                and bound.arguments.get('file_client_args') is None):
            kwargs['backend_args'] = dict(ATOMIC_BACKEND_ARGS)
        super().__init__(*args, **kwargs)
        allow_mmengine_checkpoint_globals()

    @property
    def atomic(self) -> bool:
        """Whether checkpoints are written through the atomic backend."""
        return isinstance(getattr(self, 'file_backend', None), AtomicLocalBackend)

    def before_run(self, runner) -> None:
        """Repair a ``last_checkpoint`` that names no complete checkpoint
        (before ``--resume`` reads it)."""
        super().before_run(runner)
        if not is_main_process() or not self._is_atomic_dir(runner):
            return
        self.repair_last_checkpoint(runner)

    def _is_atomic_dir(self, runner) -> bool:
        backend = get_file_backend(self.out_dir or runner.work_dir,
                                   backend_args=self.backend_args)
        return isinstance(backend, AtomicLocalBackend)

    def _newest_checkpoint(self, directory: str) -> Optional[str]:
        pattern = re.compile('^' + re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)')
                             + '$')
        best, best_step = None, -1
        for path in glob.glob(osp.join(glob.escape(directory), '*')):
            match = pattern.match(osp.basename(path))
            if match and int(match.group(1)) > best_step and osp.getsize(path) > 0:
                best, best_step = path, int(match.group(1))
        return best

    def repair_last_checkpoint(self, runner) -> None:
        """Point ``work_dir/last_checkpoint`` at the newest complete
        checkpoint when it is empty or names a missing file.

        Args:
            runner (Runner): The runner.
        """
        save_file = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(save_file):
            return
        with open(save_file, encoding='utf-8') as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return
        directory = self.out_dir or runner.work_dir
        if directory != runner.work_dir and not osp.isdir(directory):
            basename = osp.basename(runner.work_dir.rstrip(osp.sep))
            directory = osp.join(directory, basename)
        newest = self._newest_checkpoint(directory)
        if newest is None:
            os.remove(save_file)
            runner.logger.warning(f'{save_file} named {named!r}, which does not exist, and '
                                  f'no checkpoint is left in {directory}: removed it')
            return
        atomic_write_text(save_file, newest)
        runner.logger.warning(f'{save_file} named {named!r}, which does not exist: it now '
                              f'names the newest checkpoint {newest}')

    def before_train(self, runner) -> None:
        """Set up as the parent and remove partial files of killed runs."""
        super().before_train(runner)
        if self.atomic and is_main_process() and osp.isdir(self.out_dir):
            for path in glob.glob(osp.join(glob.escape(self.out_dir), f'.*{PARTIAL_SUFFIX}')):
                os.remove(path)
                runner.logger.info(f'removed partial checkpoint {path} of an interrupted run')
