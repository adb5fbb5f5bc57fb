# Copyright (c) mmdensekd contributors. All rights reserved.
"""The student of a distillation config as a model of its own: its config
(for testing and demos) and its weights in a distillation checkpoint."""
import copy
import os.path as osp
from pathlib import Path
from typing import Dict, Union

from mmengine.config import Config, ConfigDict

#: ``model.type`` of the distillation algorithm.
DISTILLER_TYPE = 'TeacherStudentDistiller'
#: Hooks that need the algorithm (a teacher); dropped from student configs.
_DISTILL_HOOKS = ('TeacherFrozenCheckHook', 'DistillLossWeightHook')


def is_distill_config(cfg: Config) -> bool:
    """Whether ``cfg.model`` is the distillation algorithm."""
    return isinstance(cfg.get('model'), dict) and cfg.model.get('type') == DISTILLER_TYPE


def student_config(config: Union[str, Path, Config]) -> Config:
    """The standalone config of a distillation config's student.

    ``model`` becomes the student (``model.student``) with the algorithm's
    data preprocessor when it has none; a ``DistillValLoop`` becomes a ``ValLoop`` and the
    teacher hooks are dropped. Dataloaders, evaluators and everything else
    are kept, so ``tools/test.py`` and the demos run the student with the
    pipelines it was trained with. A config that is not a distillation
    config is returned as is (a copy).

    Args:
        config (str | Path | Config): The distillation config.

    Returns:
        Config: The student's config.
    """
    if isinstance(config, (str, Path)):
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'config file {config} does not exist')
        cfg = Config.fromfile(str(config))
    else:
        cfg = copy.deepcopy(config)
    if not is_distill_config(cfg):
        return cfg
    algo = cfg.model
    if algo.get('student') is None:
        raise KeyError('the distillation config has no model.student')
    student = ConfigDict(copy.deepcopy(algo.student))
    if student.get('data_preprocessor') is None and algo.get('data_preprocessor'):
        student.data_preprocessor = copy.deepcopy(algo.data_preprocessor)
    cfg.model = student
    if isinstance(cfg.get('val_cfg'), dict) and cfg.val_cfg.get('type') == 'DistillValLoop':
        cfg.val_cfg = dict(type='ValLoop')
    if cfg.get('custom_hooks'):
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h.get('type') not in _DISTILL_HOOKS]
    return cfg


def extract_student_state_dict(checkpoint: dict) -> Dict[str, object]:
    """The student's weights in a distillation checkpoint, keyed as in the
    standalone student.

    Checkpoints of the algorithm before ``CSIDetector`` kept the MTN at
    ``student_mtn.*`` and the detector at ``student.*``; they map to the
    CSIDetector's ``mtn.*`` and ``detector.*``.

    Args:
        checkpoint (dict): A checkpoint (with ``state_dict``) or a state dict.

    Returns:
        dict: The student's state dict.

    Raises:
        ValueError: The checkpoint holds no ``student.`` weights.
    """
    state = checkpoint.get('state_dict', checkpoint)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    legacy_mtn = any(k.startswith('student_mtn.') for k in state)
    out = {}
    for key, value in state.items():
        if key.startswith('student.'):
            rest = key[len('student.'):]
            out[('detector.' + rest) if legacy_mtn else rest] = value
        elif key.startswith('student_mtn.'):
            out['mtn.' + key[len('student_mtn.'):]] = value
    if not out:
        raise ValueError('the checkpoint holds no student weights (no key starts with '
                         "'student.'): is it a distillation checkpoint?")
    return out
