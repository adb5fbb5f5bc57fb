# Copyright (c) mmdensekd contributors. All rights reserved.
"""Packing of DensePose samples (image and/or CSI) into ``DetDataSample``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import to_tensor
from mmdet.datasets.transforms import PackDetInputs

from mmdensekd.registry import TRANSFORMS
from mmdensekd.structures import DensePoseTargets

from .densepose_geometry import validate_geometric_targets


@TRANSFORMS.register_module()
class PackDensePoseInputs(PackDetInputs):
    """Pack an image and/or CSI sample with boxes, keypoints and DensePose.

    ``inputs``:

    - image only: the (3, H, W) image tensor, as mmdet's ``PackDetInputs``;
    - with ``results['csi']`` (float array (2, *shape), stacked amplitude and
      phase from the CSI transforms): a dict ``{'img': (3, H, W) tensor,
      'csi': (2, *shape) float32 tensor}``, or ``{'csi': ...}`` without image.

    ``data_samples``: a ``DetDataSample`` whose ``gt_instances`` holds
    ``bboxes``, ``labels``, ``keypoints`` (N, K, 2) float32,
    ``keypoints_visible`` (N, K) float32 and ``densepose``
    (:class:`DensePoseTargets`) of the non-ignored instances;
    ``ignored_instances`` holds the same fields of the ignored (crowd) ones.

    Args:
        meta_keys (Sequence[str]): Keys copied into the sample's metainfo when
            present. Defaults to mmdet's keys plus ``csi_path``.
    """

    #: results key -> field of ``gt_instances`` added by this class.
    extra_mapping_table = {
        'gt_keypoints': 'keypoints',
        'gt_keypoints_visible': 'keypoints_visible',
        'gt_densepose': 'densepose',
    }

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                                             'scale_factor', 'flip', 'flip_direction',
                                             'csi_path')) -> None:
        super().__init__(meta_keys=meta_keys)

    @staticmethod
    def _select(value, index):
        if isinstance(value, DensePoseTargets):
            return value if index is None else value[index]
        tensor = to_tensor(np.ascontiguousarray(value) if isinstance(value, np.ndarray)
                           else value)
        if tensor.is_floating_point():
            tensor = tensor.float()
        return tensor if index is None else tensor[torch.as_tensor(index, dtype=torch.long)]

    def transform(self, results: dict) -> dict:
        """Pack one sample.

        Args:
            results (dict): Result dict from the data pipeline.

        Returns:
            dict: ``inputs`` (tensor or dict of tensors) and ``data_samples``
            (``DetDataSample``).
        """
        # the last guard for geometric transforms that are not ours
        validate_geometric_targets(results, type(self).__name__)
        packed = super().transform(results)
        data_sample = packed['data_samples']
        if 'gt_ignore_flags' in results:
            flags = np.asarray(results['gt_ignore_flags'])
            valid_idx, ignore_idx = np.where(flags == 0)[0], np.where(flags == 1)[0]
        else:
            valid_idx = ignore_idx = None
        for key, field in self.extra_mapping_table.items():
            if results.get(key, None) is None:
                continue
            data_sample.gt_instances[field] = self._select(results[key], valid_idx)
            if ignore_idx is not None:
                data_sample.ignored_instances[field] = self._select(results[key], ignore_idx)

        if results.get('csi', None) is not None:
            csi = results['csi']
            csi = torch.from_numpy(np.ascontiguousarray(csi)) if isinstance(
                csi, np.ndarray) else torch.as_tensor(csi)
            inputs = {'csi': csi.float()}
            if 'inputs' in packed:
                inputs = {'img': packed['inputs'], 'csi': csi.float()}
            packed['inputs'] = inputs
        return packed
