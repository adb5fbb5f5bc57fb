# Copyright (c) mmdensekd contributors. All rights reserved.
"""A detector that sees WiFi CSI: modality translation network + detector.

Shape legend: ``B`` batch size, ``S`` per-sample CSI shape (e.g.
``(150, 3, 3)``), ``H``/``W`` the image frame the MTN output stands for.
"""
import copy
import os.path as osp
from typing import Dict, List, Optional, Union

import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmdensekd.registry import MODELS

CSIInputs = Union[Tensor, Dict[str, Tensor]]
#: The repository root (``configs/`` of a source checkout).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def resolve_cfg_path(cfg: dict, name: str = 'model') -> ConfigDict:
    """A model config that may name its architecture by config file.

    ``dict(cfg_path=PATH, **overrides)`` is the ``model`` of the config
    file ``PATH`` (relative to the working directory, as ``load_from``, or
    else to the repository root, where ``configs/`` is) with
    ``overrides`` merged in as a child config merges into its base (nested
    dicts merge key by key, ``_delete_=True`` replaces). A dict without
    ``cfg_path`` is returned as is (a copy).

    Args:
        cfg (dict): The model config.
        name (str): Its name in error messages (e.g. ``'student.detector'``).

    Returns:
        ConfigDict: The resolved model config.
    """
    cfg = copy.deepcopy(dict(cfg))
    path = cfg.pop('cfg_path', None)
    if path is None:
        return ConfigDict(cfg)
    found = path if osp.isfile(path) or osp.isabs(path) else osp.join(REPO_ROOT, path)
    if not osp.isfile(found):
        raise FileNotFoundError(f'{name}.cfg_path: config file not found: {path} (relative '
                                'paths are relative to the working directory, else to the '
                                f'repository {REPO_ROOT})')
    base = Config.fromfile(found)
    if 'model' not in base:
        raise KeyError(f'{name}.cfg_path: {path} has no `model`')
    merged = Config(dict(model=base.model))
    merged.merge_from_dict(dict(model=cfg))
    return merged.model


@MODELS.register_module()
class CSIDetector(BaseModel):
    """Detect people from CSI: ``detector(mtn(amplitude, phase))``.

    The modality translation network turns the stacked ``(B, 2, *S)``
    amplitude and sanitised phase into an image-like ``(B, 3, h, w)`` tensor;
    when the data samples carry a ``batch_input_shape`` ``(H, W)`` that
    differs, it is resized (bilinear) to it, so boxes, RoIs and rescaled
    predictions live in the frame the data preprocessor describes (the
    camera frame of paired data, ``csi_image_shape`` of CSI-only data). The
    result goes through ``detector`` like an image.

    It is a model of its own: built alone from a student config it trains
    and predicts on packed CSI inputs (its ``data_preprocessor`` is a
    :class:`~mmdensekd.models.data_preprocessors.PairedDataPreprocessor`);
    inside :class:`~mmdensekd.models.distillers.TeacherStudentDistiller` it
    is the student.

    Args:
        mtn (dict): The modality translation network config.
        detector (dict): The detector config (e.g. ``DensePoseRCNN``), or
            ``dict(cfg_path=PATH, **overrides)`` (:func:`resolve_cfg_path`);
            its own ``data_preprocessor`` is not used (inputs come
            normalised).
        csi_key (str): Key of the CSI in dict inputs. Defaults to ``'csi'``.
        resize_to_input_shape (bool): Resize the MTN output to the samples'
            ``batch_input_shape``. Defaults to True.
        data_preprocessor (dict, optional): e.g. ``PairedDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 mtn: dict,
                 detector: dict,
                 csi_key: str = 'csi',
                 resize_to_input_shape: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        detector = resolve_cfg_path(detector, 'detector')
        detector.pop('data_preprocessor', None)
        self.mtn = MODELS.build(ConfigDict(mtn))
        # ConfigDict: mmdet detectors read train_cfg.rpn etc. as attributes
        self.detector: nn.Module = MODELS.build(detector)
        self.csi_key = csi_key
        self.resize_to_input_shape = resize_to_input_shape

    def csi_to_image(self, inputs: CSIInputs,
                     data_samples: Optional[List[DetDataSample]] = None) -> Tensor:
        """The image-like tensor the detector sees.

        Args:
            inputs (Tensor | dict): ``(B, 2, *S)`` CSI, or a dict holding it
                at ``csi_key``.
            data_samples (list[DetDataSample], optional): Their
                ``batch_input_shape`` is the output size.

        Returns:
            Tensor: ``(B, 3, H, W)``.
        """
        if isinstance(inputs, dict):
            if self.csi_key not in inputs:
                raise KeyError(f'CSIDetector: the batch inputs have no {self.csi_key!r} '
                               f'(keys: {sorted(inputs)})')
            inputs = inputs[self.csi_key]
        if inputs.dim() < 2 or inputs.size(1) != 2:
            raise ValueError('CSIDetector expects CSI of shape (B, 2, ...) = stacked '
                             f'(amplitude, phase), got {tuple(inputs.shape)}')
        img = self.mtn(inputs[:, 0], inputs[:, 1])
        if self.resize_to_input_shape and data_samples \
                and 'batch_input_shape' in data_samples[0].metainfo:
            size = tuple(data_samples[0].batch_input_shape)
            if tuple(img.shape[-2:]) != size:
                img = F.interpolate(img, size=size, mode='bilinear', align_corners=False)
        return img

    def forward(self,
                inputs: CSIInputs,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor'):
        """The detector's ``forward`` (``'loss'``, ``'predict'``,
        ``'tensor'``) on the translated CSI."""
        return self.detector(self.csi_to_image(inputs, data_samples), data_samples, mode=mode)

    def loss(self, inputs: CSIInputs, data_samples: List[DetDataSample]) -> dict:
        """The detector's losses on the translated CSI."""
        return self.detector.loss(self.csi_to_image(inputs, data_samples), data_samples)

    def predict(self,
                inputs: CSIInputs,
                data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """The detector's predictions on the translated CSI."""
        return self.detector.predict(
            self.csi_to_image(inputs, data_samples), data_samples, rescale=rescale)

    def extract_feat(self, inputs: CSIInputs):
        """The detector's features of the translated CSI (no resize: no data
        samples)."""
        return self.detector.extract_feat(self.csi_to_image(inputs))
