# Copyright (c) mmdensekd contributors. All rights reserved.
"""Data preprocessor for paired (image, CSI) samples.

Shape legend: ``B`` batch size, ``S`` per-sample CSI shape (e.g.
``(3, 114, 10)``), ``H``/``W`` padded image height/width.
"""
import os.path as osp
from numbers import Number
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.models.utils.misc import samplelist_boxtype2tensor

from mmdensekd.datasets.csi_stats import read_csi_stats
from mmdensekd.registry import MODELS

StatType = Union[Sequence[Number], Sequence[Sequence], np.ndarray, torch.Tensor]


def _stat_tensor(value: Optional[StatType], key: str) -> Optional[torch.Tensor]:
    """Turn a CSI mean/std config entry into a float tensor with leading dim 2."""
    if value is None:
        return None
    tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if tensor.dim() == 0 or tensor.shape[0] != 2:
        raise ValueError(f'`{key}` must hold one entry for amplitude and one for phase '
                         f'(leading dimension 2), got shape {tuple(tensor.shape)}')
    return tensor


@MODELS.register_module()
class PairedDataPreprocessor(DetDataPreprocessor):
    """DetDataPreprocessor that also handles ``inputs['csi']``.

    * Plain inputs (a list of ``(3, H, W)`` tensors or a stacked tensor):
      exactly :class:`mmdet.models.DetDataPreprocessor`.
    * Dict inputs ``{'img': [...], 'csi': [...]}``: ``'img'`` goes through
      DetDataPreprocessor unchanged (mean/std, bgr_to_rgb, padding,
      ``batch_input_shape`` / ``pad_shape`` metainfo, batch augments);
      ``'csi'`` (``(2, *S)`` per sample = stacked amplitude and phase) is
      stacked to ``(B, 2, *S)`` and normalised with its own statistics:
      ``csi = (csi - csi_mean) / csi_std``.
    * CSI-only dict inputs: the data samples get ``batch_input_shape`` and
      ``pad_shape`` = ``csi_image_shape`` (the frame that the MTN's
      image-like output stands for) and, unless the pipeline set them,
      ``img_shape`` = ``ori_shape`` = ``csi_image_shape`` and
      ``scale_factor`` = ``(1., 1.)``, so the RPN, RoI heads and rescaled
      predictions work.

    Batch augments act on images only.

    The CSI statistics come with the data: ``csi_stats_file`` names the
    dataset's meta file, whose ``csi_stats`` entry
    (:mod:`mmdensekd.datasets.csi_stats`) gives ``csi_mean`` / ``csi_std``.
    It is read when the preprocessor is built, or, when it does not exist yet
    (a config built before its dataset is generated), at the first CSI batch,
    which fails naming the file if it still does not exist.

    Args:
        csi_mean (Sequence, optional): Amplitude and phase means: two
            scalars, or an array broadcastable to ``(2, *S)`` (per-element
            statistics). ``None`` means no centring.
        csi_std (Sequence, optional): As ``csi_mean`` for the standard
            deviations. ``None`` means no scaling.
        csi_stats_file (str, optional): A dataset meta file holding the
            statistics (instead of ``csi_mean`` / ``csi_std``).
        csi_image_shape (Sequence[int], optional): ``(H, W)`` written into
            CSI-only data samples. Required for CSI-only batches with data
            samples.
        **kwargs: Arguments of :class:`DetDataPreprocessor` (``mean``,
            ``std``, ``bgr_to_rgb``, ``pad_size_divisor``, ...).
    """

    def __init__(self,
                 csi_mean: Optional[StatType] = None,
                 csi_std: Optional[StatType] = None,
                 csi_image_shape: Optional[Sequence[int]] = None,
                 csi_stats_file: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if csi_stats_file is not None and (csi_mean is not None or csi_std is not None):
            raise ValueError('PairedDataPreprocessor: give csi_stats_file or csi_mean/csi_std, '
                             'not both')
        self.csi_stats_file = csi_stats_file
        self.register_buffer('csi_mean', torch.zeros(2), False)
        self.register_buffer('csi_std', torch.ones(2), False)
        self._csi_normalize = False
        self.csi_stats_loaded = False
        if csi_stats_file is None:
            self._set_csi_stats(csi_mean, csi_std)
        elif osp.isfile(csi_stats_file):
            self._set_csi_stats(*read_csi_stats(csi_stats_file))
        if csi_image_shape is not None:
            if len(csi_image_shape) != 2 or min(csi_image_shape) <= 0:
                raise ValueError('`csi_image_shape` must be (H, W) with positive sizes, got '
                                 f'{csi_image_shape!r}')
            csi_image_shape = (int(csi_image_shape[0]), int(csi_image_shape[1]))
        self.csi_image_shape: Optional[Tuple[int, int]] = csi_image_shape

    def _set_csi_stats(self, csi_mean: Optional[StatType], csi_std: Optional[StatType]) -> None:
        """Check the statistics and set the (non-persistent) buffers."""
        where = f' (from {self.csi_stats_file})' if self.csi_stats_file else ''
        mean = _stat_tensor(csi_mean, 'csi_mean' + where)
        std = _stat_tensor(csi_std, 'csi_std' + where)
        if std is not None and bool((std <= 0).any()):
            raise ValueError(f'`csi_std`{where} must be positive')
        self._csi_normalize = mean is not None or std is not None
        device = self.csi_mean.device
        self.csi_mean = mean.to(device) if mean is not None else torch.zeros(2, device=device)
        self.csi_std = std.to(device) if std is not None else torch.ones(2, device=device)
        self.csi_stats_loaded = True

    @staticmethod
    def _broadcast(stat: torch.Tensor, sample_ndim: int) -> torch.Tensor:
        """Reshape a ``(2, ...)`` statistic to broadcast against ``(B, 2, *S)``."""
        if stat.dim() == 1:
            return stat.view(1, 2, *([1] * (sample_ndim - 1)))
        return stat.unsqueeze(0)

    def preprocess_csi(self, csi: Union[torch.Tensor, List]) -> torch.Tensor:
        """Stack (if needed), move and normalise CSI samples.

        Args:
            csi (Tensor | list): ``(B, 2, *S)`` tensor or a list of ``B``
                ``(2, *S)`` tensors / arrays.

        Returns:
            Tensor: ``(B, 2, *S)`` float tensor on the preprocessor's device.
        """
        if isinstance(csi, (list, tuple)):
            if len(csi) == 0:
                raise ValueError("PairedDataPreprocessor: inputs['csi'] is an empty list")
            samples = [torch.as_tensor(c) for c in csi]
            shapes = {tuple(s.shape) for s in samples}
            if len(shapes) != 1:
                raise ValueError("PairedDataPreprocessor: inputs['csi'] samples have different "
                                 f'shapes {sorted(shapes)}')
            csi = torch.stack(samples)
        elif not isinstance(csi, torch.Tensor):
            raise TypeError("PairedDataPreprocessor: inputs['csi'] must be a tensor or a list "
                            f'of tensors, got {type(csi)}')
        if csi.dim() < 2 or csi.shape[1] != 2:
            raise ValueError("PairedDataPreprocessor: inputs['csi'] must be (B, 2, *S) "
                             f'(amplitude, phase), got {tuple(csi.shape)}')
        csi = self.cast_data(csi).float()
        if self.csi_stats_file is not None and not self.csi_stats_loaded:
            self._set_csi_stats(*read_csi_stats(self.csi_stats_file))
        if self._csi_normalize:
            sample_ndim = csi.dim() - 1
            mean = self._broadcast(self.csi_mean, sample_ndim)
            std = self._broadcast(self.csi_std, sample_ndim)
            try:
                csi = (csi - mean) / std
            except RuntimeError as err:
                raise ValueError('PairedDataPreprocessor: csi_mean/csi_std of shapes '
                                 f'{tuple(self.csi_mean.shape)}/{tuple(self.csi_std.shape)} '
                                 f'do not broadcast to CSI {tuple(csi.shape)}') from err
        return csi

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a batch.

        Args:
            data (dict): ``inputs`` (tensor / list of tensors, or a dict with
                ``'img'`` and/or ``'csi'``) and ``data_samples``.
            training (bool): Whether batch augments are enabled.

        Returns:
            dict: ``inputs`` (a tensor, or ``{'img': (B, 3, H, W),
            'csi': (B, 2, *S)}`` with the keys present) and
            ``data_samples``.
        """
        inputs = data['inputs']
        if not isinstance(inputs, dict):
            return super().forward(data, training)
        unknown = set(inputs) - {'img', 'csi'}
        if unknown:
            raise ValueError(f'PairedDataPreprocessor: unknown input keys {sorted(unknown)}; '
                             "expected 'img' and/or 'csi'")
        data_samples = data.get('data_samples')
        out = {}
        if inputs.get('img') is not None:
            img_data = super().forward(
                dict(inputs=inputs['img'], data_samples=data_samples), training)
            out['img'] = img_data['inputs']
            data_samples = img_data['data_samples']
        if inputs.get('csi') is not None:
            out['csi'] = self.preprocess_csi(inputs['csi'])
            if 'img' not in out and data_samples is not None:
                data_samples = self.cast_data(data_samples)
                self._set_csi_metainfo(data_samples)
        if not out:
            raise ValueError("PairedDataPreprocessor: inputs hold neither 'img' nor 'csi'")
        return {'inputs': out, 'data_samples': data_samples}

    def _set_csi_metainfo(self, data_samples: list) -> None:
        """Give CSI-only samples the image-frame metainfo heads rely on.

        ``batch_input_shape`` and ``pad_shape`` are always
        ``csi_image_shape``. ``img_shape`` (RPN / box clipping), ``ori_shape``
        and ``scale_factor`` (rescaling predictions) are only filled when the
        pipeline did not set them: ``img_shape = csi_image_shape``,
        ``ori_shape = img_shape`` and ``scale_factor = img_shape / ori_shape``
        as ``(w_scale, h_scale)`` (``(1., 1.)`` when both are defaulted).
        """
        if self.csi_image_shape is None:
            raise ValueError('PairedDataPreprocessor: a CSI-only batch needs '
                             '`csi_image_shape` (H, W) in the data preprocessor config')
        for sample in data_samples:
            meta = sample.metainfo
            img_shape = tuple(meta.get('img_shape', self.csi_image_shape))[:2]
            ori_shape = tuple(meta.get('ori_shape', img_shape))[:2]
            info = {
                'batch_input_shape': self.csi_image_shape,
                'pad_shape': self.csi_image_shape
            }
            if 'img_shape' not in meta:
                info['img_shape'] = img_shape
            if 'ori_shape' not in meta:
                info['ori_shape'] = ori_shape
            if 'scale_factor' not in meta:
                info['scale_factor'] = (img_shape[1] / ori_shape[1], img_shape[0] / ori_shape[0])
            sample.set_metainfo(info)
        if self.boxtype2tensor:
            samplelist_boxtype2tensor(data_samples)
