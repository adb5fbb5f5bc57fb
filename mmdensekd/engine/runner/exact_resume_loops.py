# Copyright (c) mmdensekd contributors. All rights reserved.
"""Training loops that continue a resumed run exactly.

A resumed CPU run with deterministic settings logs the same losses as an
uninterrupted one, for iteration- and epoch-based training, whatever
iteration the checkpoint was written at (mid-epoch included):

* every checkpoint written during training holds ``rng_state`` (Python,
  numpy, torch and CUDA generators, see
  :mod:`mmdensekd.engine.hooks.rng_state`) and ``meta['sampler']`` (the
  sampler's type and seed, the epoch and the number of batches drawn);
* on ``--resume`` the loop replays the batches already drawn (in the
  current epoch for the epoch loop), so the sampler and the data-loader
  workers stand where they stood, and restores the generators right before
  the first new batch. The uninterrupted run restores the same snapshot
  before its next batch, so whatever runs between a save and the next batch
  (logging, validation) changes nothing.

Resuming a checkpoint without ``rng_state`` (written by another loop), with
another sampler, or (epoch loop) with persistent data-loader workers logs a
warning saying that the run continues, but not exactly.

:class:`ExactResumeRunner` (``runner_type`` in ``configs/_base_``) builds
these loops for configs that name mmengine's ``IterBasedTrainLoop`` /
``EpochBasedTrainLoop`` (or ``by_epoch``); a config may also name them.
"""
from typing import Iterator, Optional

from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmdensekd.registry import LOOPS

from ..hooks.rng_state import ResumableIterator, get_rng_state

__all__ = ['ExactResumeIterBasedTrainLoop', 'ExactResumeEpochBasedTrainLoop']


class ExactResumeStateHook(Hook):
    """Carries the loop's resume state into and out of checkpoints.

    Registered by the loop itself (``runner.register_hook``), so exact
    resume works with any checkpoint hook.

    Args:
        loop: The :class:`_ExactResumeMixin` loop.
    """

    priority = 'HIGHEST'

    def __init__(self, loop: '_ExactResumeMixin') -> None:
        self.loop = loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add ``rng_state`` and ``meta['sampler']``."""
        meta = checkpoint.setdefault('meta', {})
        checkpoint['rng_state'] = self.loop.snapshot_for_checkpoint()
        meta['sampler'] = self.loop.sampler_info(int(meta.get('iter', runner.iter + 1)))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep what the loop needs if this load is a resume."""
        self.loop.set_loaded_checkpoint(checkpoint)


class _ExactResumeMixin:
    """State handling shared by both loops (see the module docstring)."""

    def _init_exact_resume(self, runner) -> None:
        self.loaded_rng_state: Optional[dict] = None
        self.loaded_meta: dict = {}
        self.resume_iterator: Optional[ResumableIterator] = None
        runner.register_hook(ExactResumeStateHook(self))

    # -- checkpoints --------------------------------------------------------
    def sampler_info(self, position: int) -> dict:
        """Type and seed of the training sampler, and ``position`` (batches
        drawn in total)."""
        sampler = getattr(self.dataloader, 'sampler', None)
        batch_sampler = getattr(self.dataloader, 'batch_sampler', None)
        if sampler is None and batch_sampler is not None:
            sampler = getattr(batch_sampler, 'sampler', None)
        seed = getattr(sampler, 'seed', None)
        return dict(type=type(sampler).__name__, seed=None if seed is None else int(seed),
                    position=int(position))

    def snapshot_for_checkpoint(self) -> dict:
        """Generator states for a checkpoint being written now; the run
        restores them before its next batch, as a resumed run will."""
        iterator = self.resume_iterator
        # a second checkpoint of the same iteration (e.g. the best one, after
        # validation) carries the same snapshot as the first
        state = iterator.state if iterator is not None and iterator.state is not None \
            else get_rng_state()
        if iterator is not None:
            iterator.restore_before_next(state)
        return state

    def set_loaded_checkpoint(self, checkpoint: dict) -> None:
        """Remember the generator states and sampler of a loaded checkpoint
        (used only if the load is a resume, i.e. the loop's iteration moves)."""
        self.loaded_rng_state = checkpoint.get('rng_state')
        self.loaded_meta = dict(checkpoint.get('meta', {}))

    def resume_state(self) -> Optional[dict]:
        """The generator states to restore before the first new batch, with a
        warning when the resumed checkpoint does not allow an exact resume."""
        if self.iter == 0:  # a fresh run (``load_from`` alone keeps iter at 0)
            return None
        state, meta = self.loaded_rng_state, self.loaded_meta
        logger = self.runner.logger
        if state is None or int(meta.get('iter', -1)) != self.iter:
            logger.warning(
                f'{type(self).__name__}: the resumed checkpoint holds no RNG state (written '
                'by another training loop or an older version); the run continues from '
                f'iteration {self.iter}, but not bit-identically')
            return None
        saved = meta.get('sampler') or {}
        now = self.sampler_info(saved.get('position', 0))
        if saved and (now['type'], now['seed']) != (saved.get('type'), saved.get('seed')):
            logger.warning(
                f'{type(self).__name__}: the checkpoint was written with sampler '
                f'{saved.get("type")} (seed {saved.get("seed")}), this run uses '
                f'{now["type"]} (seed {now["seed"]}): the resumed data order differs')
        return state


@LOOPS.register_module()
class ExactResumeIterBasedTrainLoop(_ExactResumeMixin, IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that resumes exactly (see the module docstring).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Training dataloader.
        *args, **kwargs: Arguments of ``IterBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, *args, **kwargs) -> None:
        super().__init__(runner, dataloader, *args, **kwargs)
        self._init_exact_resume(runner)
        # ``IterBasedTrainLoop.run`` replays ``iter`` batches of this
        # iterator on resume; the wrapper restores the generators after them
        self.resume_iterator = ResumableIterator(self.dataloader_iterator)
        self.dataloader_iterator = self.resume_iterator

    def run(self):
        """Launch training (resumed exactly when ``iter > 0``)."""
        if self.iter:
            self.resume_iterator.skip = self.iter
            self.resume_iterator.state = self.resume_state()
        return super().run()


@LOOPS.register_module()
class ExactResumeEpochBasedTrainLoop(_ExactResumeMixin, EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes exactly, mid-epoch included (see
    the module docstring).

    ``Runner.resume`` sets the epoch to the epochs completed and the
    iteration to the batches trained; this loop then starts the epoch by
    replaying its first ``iter - epoch * len(dataloader)`` batches (without
    training on them) and restores the generators before the next one.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Training dataloader.
        *args, **kwargs: Arguments of ``EpochBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, *args, **kwargs) -> None:
        super().__init__(runner, dataloader, *args, **kwargs)
        self._init_exact_resume(runner)
        self.pending_skip = 0
        self.pending_state: Optional[dict] = None

    def run(self):
        """Launch training (resumed exactly when ``iter > 0``)."""
        if self.iter:
            self.pending_skip = self.iter - self.epoch * len(self.dataloader)
            self.pending_state = self.resume_state()
            if self.pending_state is not None and self.epoch and getattr(
                    self.dataloader, 'persistent_workers', False):
                self.runner.logger.warning(
                    f'{type(self).__name__}: persistent data-loader workers keep their '
                    'random state across epochs; the resumed run restarts them, so its '
                    'augmentations differ from the uninterrupted run (set '
                    'persistent_workers=False for an exact resume)')
        return super().run()

    def snapshot_for_checkpoint(self) -> dict:
        """As the mixin's; before the first epoch the restore waits for it."""
        state = super().snapshot_for_checkpoint()
        if self.resume_iterator is None:
            self.pending_state = state
        return state

    def _epoch_batches(self) -> Iterator:
        state = self.pending_state
        if self.resume_iterator is not None and self.resume_iterator.state is not None:
            state = self.resume_iterator.state  # saved after the last batch
        skip, self.pending_skip, self.pending_state = self.pending_skip, 0, None
        self.resume_iterator = ResumableIterator(iter(self.dataloader), skip=skip, state=state)
        return self.resume_iterator

    def run_epoch(self) -> None:
        """Iterate one epoch, replaying the batches a resumed checkpoint had
        already trained on."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        batches = self._epoch_batches()
        skip = batches.skip
        for idx, data_batch in enumerate(batches):
            if idx < skip:
                continue
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
