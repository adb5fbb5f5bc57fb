# Copyright (c) mmdensekd contributors. All rights reserved.
"""``Runner`` that trains with the exact-resume loops."""
import copy
from typing import Dict, Union

from mmengine.runner import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, Runner

from mmdensekd.registry import RUNNERS

from .exact_resume_loops import ExactResumeEpochBasedTrainLoop, ExactResumeIterBasedTrainLoop

__all__ = ['ExactResumeRunner', 'exact_resume_loop_cfg']

_PLAIN_TO_EXACT = {
    'IterBasedTrainLoop': ExactResumeIterBasedTrainLoop,
    'mmengine.IterBasedTrainLoop': ExactResumeIterBasedTrainLoop,
    IterBasedTrainLoop: ExactResumeIterBasedTrainLoop,
    'EpochBasedTrainLoop': ExactResumeEpochBasedTrainLoop,
    'mmengine.EpochBasedTrainLoop': ExactResumeEpochBasedTrainLoop,
    EpochBasedTrainLoop: ExactResumeEpochBasedTrainLoop,
}


def exact_resume_loop_cfg(loop_cfg: Dict) -> Dict:
    """The training-loop config with mmengine's plain loops replaced by the
    exact-resume loops of :mod:`mmdensekd.engine.runner.exact_resume_loops`.

    ``dict(by_epoch=True, ...)`` and ``type='EpochBasedTrainLoop'`` give
    :class:`ExactResumeEpochBasedTrainLoop`; ``by_epoch=False`` and
    ``type='IterBasedTrainLoop'`` give :class:`ExactResumeIterBasedTrainLoop`;
    any other ``type`` is kept.

    Args:
        loop_cfg (dict): ``train_cfg``.

    Returns:
        dict: A new config.
    """
    cfg = copy.deepcopy(dict(loop_cfg))
    if 'type' not in cfg:
        if 'by_epoch' not in cfg:
            raise KeyError('train_cfg needs a type or by_epoch=True/False, got '
                           f'{sorted(cfg)}')
        by_epoch = cfg.pop('by_epoch')
        cfg['type'] = EpochBasedTrainLoop if by_epoch else IterBasedTrainLoop
    loop_type = cfg['type']
    try:
        cfg['type'] = _PLAIN_TO_EXACT.get(loop_type, loop_type)
    except TypeError:  # unhashable
        pass
    return cfg


@RUNNERS.register_module()
class ExactResumeRunner(Runner):
    """mmengine ``Runner`` whose training loop resumes exactly.

    A ``train_cfg`` that names mmengine's ``IterBasedTrainLoop`` /
    ``EpochBasedTrainLoop`` (or only ``by_epoch``) builds the matching
    exact-resume loop (:func:`exact_resume_loop_cfg`); everything else is
    ``Runner``'s. Select it with ``runner_type = 'mmdet.ExactResumeRunner'``
    (as ``configs/_base_/default_runtime.py`` does; the scope prefix lets
    ``RUNNERS.build`` find it whatever the default scope).
    """

    def build_train_loop(self, loop: Union[BaseLoop, Dict]) -> BaseLoop:
        """Build the training loop (see the class docstring).

        Args:
            loop (BaseLoop | dict): A loop or its config.

        Returns:
            BaseLoop: The loop.
        """
        if isinstance(loop, dict):
            loop = exact_resume_loop_cfg(loop)
        return super().build_train_loop(loop)
