# Copyright (c) mmdensekd contributors. All rights reserved.
"""Build, load and check the frozen teacher(s) of a distillation algorithm."""
import os.path as osp
from typing import List, Optional, Sequence

import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor, nn

from mmdensekd.registry import MODELS


def check_module_frozen(module: nn.Module, name: str = 'teacher') -> None:
    """Raise when ``module`` is not frozen.

    Args:
        module (nn.Module): e.g. the distillation teacher.
        name (str): Name used in the messages. Defaults to ``'teacher'``.

    Raises:
        RuntimeError: A parameter requires grad, or a sub-module is in train
            mode (BatchNorm statistics would update).
    """
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    if trainable:
        raise RuntimeError(f'{name} parameters require grad: {trainable[:5]}')
    training = [n or f'<{name}>' for n, m in module.named_modules() if m.training]
    if training:
        raise RuntimeError(f'{name} modules are in train mode (BatchNorm would update): '
                           f'{training[:5]}')


def build_frozen_model(model: Optional[dict] = None,
                       cfg: Optional[str] = None,
                       ckpt: Optional[str] = None,
                       allow_uninitialized: bool = False,
                       name: str = 'teacher') -> nn.Module:
    """Build a model, load its checkpoint and freeze it (no grad, eval mode).

    Paths resolve as every mmengine config path (``load_from``,
    ``Pretrained`` checkpoints): relative to the working directory.

    Args:
        model (dict, optional): The model config.
        cfg (str, optional): A config file whose ``model`` is used instead.
            Exactly one of ``model`` and ``cfg`` must be given.
        ckpt (str, optional): Local checkpoint, loaded strictly (a
            ``module.`` prefix of DDP checkpoints is removed).
        allow_uninitialized (bool): Allow ``ckpt=None`` (tests only).
            Defaults to False.
        name (str): Config key prefix used in error messages (``'teacher'``
            gives ``teacher_cfg`` / ``teacher_ckpt``). Defaults to
            ``'teacher'``.

    Returns:
        nn.Module: The frozen model.

    Raises:
        ValueError: Both or neither of ``model`` / ``cfg``; no ``ckpt``.
        FileNotFoundError: ``cfg`` or ``ckpt`` does not exist (named).
    """
    if (model is None) == (cfg is None):
        raise ValueError(f'{name}: give exactly one of a model dict and {name}_cfg (a config '
                         'file path)')
    if cfg is not None:
        if not osp.isfile(cfg):
            raise FileNotFoundError(f'{name}_cfg: config file not found: {cfg} (relative '
                                    'paths are relative to the working directory)')
        loaded = Config.fromfile(cfg)
        if 'model' not in loaded:
            raise KeyError(f'{name}_cfg: {cfg} has no `model`')
        model = loaded.model
    # ConfigDict: mmdet detectors read train_cfg.rpn etc. as attributes
    module = MODELS.build(ConfigDict(model))
    if ckpt is None:
        if not allow_uninitialized:
            raise ValueError(f'{name}_ckpt is required (a local checkpoint of the {name}); '
                             'set allow_uninitialized_teacher=True only in tests')
    else:
        if not osp.isfile(ckpt):
            raise FileNotFoundError(f'{name}_ckpt: checkpoint file not found: {ckpt} '
                                    '(relative paths are relative to the working directory)')
        load_checkpoint(module, ckpt, map_location='cpu', strict=True,
                        revise_keys=[(r'^module\.', '')])
    module.requires_grad_(False)
    module.eval()
    return module


def frozen_predict(model: nn.Module, img: Tensor,
                   data_samples: Sequence[DetDataSample]) -> List[DetDataSample]:
    """Detections of a frozen model in the network-input frame
    (``rescale=False``); the batch's samples are not modified.

    Args:
        model (nn.Module): A detector with ``predict``.
        img (Tensor): Its (B, 3, H, W) input.
        data_samples (Sequence[DetDataSample]): The batch (metainfo only).

    Returns:
        list[DetDataSample]: New samples with ``pred_instances``.
    """
    fresh = [DetDataSample(metainfo=ds.metainfo) for ds in data_samples]
    with torch.no_grad():
        return model.predict(img, fresh, rescale=False)
