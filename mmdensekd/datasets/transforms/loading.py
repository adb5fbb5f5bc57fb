# Copyright (c) mmdensekd contributors. All rights reserved.
"""Loading of box, keypoint and DensePose annotations."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmdet.datasets.transforms import LoadAnnotations
from pycocotools import mask as mask_utils

from mmdensekd.registry import TRANSFORMS
from mmdensekd.structures import DP_BOX_SIZE, NUM_COARSE_PARTS, DensePoseTargets

from ..coco_keypoints import NUM_COCO_KEYPOINTS
from ..densepose_parsing import check_point_variances


def merge_dp_masks(dp_masks: Optional[Sequence], where: str = '') -> np.ndarray:
    """Decode the 14 coarse part RLEs into one merged box-frame segmentation.

    Args:
        dp_masks (Sequence | None): 14 entries, each a COCO RLE dict (compressed
            ``counts`` string or uncompressed list) of size 256x256, or None /
            empty for an absent part.
        where (str): Location for error messages (image and annotation id).

    Returns:
        np.ndarray: (256, 256) uint8, ``i + 1`` where ``dp_masks[i]`` is set
        (a later part overwrites an earlier one), 0 elsewhere.
    """
    segm = np.zeros((DP_BOX_SIZE, DP_BOX_SIZE), dtype=np.uint8)
    if dp_masks is None:
        return segm
    if len(dp_masks) != NUM_COARSE_PARTS:
        raise ValueError(f'{where}: dp_masks must have {NUM_COARSE_PARTS} entries, '
                         f'got {len(dp_masks)}')
    for i, rle in enumerate(dp_masks):
        if not rle:
            continue
        try:
            size = [int(s) for s in rle['size']]
            counts = rle['counts']
            if isinstance(counts, list):
                rle = mask_utils.frPyObjects(dict(size=size, counts=counts), *size)
            elif isinstance(counts, str):
                rle = dict(size=size, counts=counts.encode('ascii'))
            mask = mask_utils.decode(rle)
        except Exception as err:  # pycocotools raises several error types
            raise ValueError(f'{where}: cannot decode dp_masks[{i}] ({err})') from err
        if mask.shape != (DP_BOX_SIZE, DP_BOX_SIZE):
            raise ValueError(f'{where}: dp_masks[{i}] decodes to shape {mask.shape}, '
                             f'expected ({DP_BOX_SIZE}, {DP_BOX_SIZE})')
        segm[mask > 0] = i + 1
    return segm


@TRANSFORMS.register_module()
class LoadDensePoseAnnotations(LoadAnnotations):
    """Load boxes, labels, COCO keypoints and DensePose targets.

    Boxes, labels, ignore flags (and optional instance masks) are loaded as by
    mmdet's :class:`LoadAnnotations`. Added keys (``N`` instances, ``K = 17``
    keypoints, ``P_i`` points of instance ``i``, ``S = 256``):

    - ``gt_keypoints`` (np.float32): (N, K, 2) pixel coordinates;
    - ``gt_keypoints_visible`` (np.float32): (N, K), 1 if COCO v > 0;
    - ``gt_densepose`` (:class:`DensePoseTargets`): points (P_i, 5)
      ``[x, y, I, U, V]`` in the box frame, merged coarse segmentation
      (N, S, S) uint8, ``has_dp`` and ``has_segm``. An instance whose
      ``dp`` carries per-point U/V variances (``sigma_2``, from the
      annotation's ``dp_sigma_2``, e.g. pseudo-labels of a confidence
      teacher) gets (P_i, 6) points ``[x, y, I, U, V, variance]``; the
      geometric transforms keep the column with its point and
      ``DensePoseChartLoss(point_weighting=True)`` reads it.

    Args:
        with_keypoints (bool): Load ``gt_keypoints``. Defaults to True.
        with_densepose (bool): Load ``gt_densepose``. Defaults to True.
        **kwargs: Arguments of :class:`mmdet.datasets.transforms.LoadAnnotations`
            (``with_bbox``, ``with_label``, ``with_mask``, ``box_type``, ...).
    """

    def __init__(self, with_keypoints: bool = True, with_densepose: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.with_keypoints = with_keypoints
        self.with_densepose = with_densepose

    @staticmethod
    def _where(results: dict, instance: dict) -> str:
        return (f"{results.get('img_path', '')}: image id {results.get('img_id')}, "
                f"annotation id {instance.get('ann_id')}")

    def _load_keypoints(self, results: dict) -> None:
        instances = results.get('instances', [])
        kpts = np.zeros((len(instances), NUM_COCO_KEYPOINTS, 2), dtype=np.float32)
        visible = np.zeros((len(instances), NUM_COCO_KEYPOINTS), dtype=np.float32)
        for i, instance in enumerate(instances):
            if instance.get('keypoints', None) is not None:
                kpts[i] = np.asarray(instance['keypoints'], dtype=np.float32)
                visible[i] = np.asarray(instance['keypoints_visible'], dtype=np.float32)
        results['gt_keypoints'] = kpts
        results['gt_keypoints_visible'] = visible

    def _load_densepose(self, results: dict) -> None:
        instances = results.get('instances', [])
        points, segms, has_dp, has_segm = [], [], [], []
        for instance in instances:
            dp = instance.get('dp', None)
            if dp is None:
                points.append(torch.zeros((0, 5), dtype=torch.float32))
            else:
                columns = [dp['x'], dp['y'], dp['I'], dp['U'], dp['V']]
                if dp.get('sigma_2', None) is not None:
                    # checked again: ``instances`` may come from elsewhere
                    # than DensePoseCocoDataset
                    columns.append(check_point_variances(
                        dp['sigma_2'], len(dp['x']), self._where(results, instance)))
                pts = np.stack(columns, axis=1)
                points.append(torch.from_numpy(pts.astype(np.float32)))
            dp_masks = instance.get('dp_masks', None)
            segms.append(merge_dp_masks(dp_masks, self._where(results, instance)))
            has_dp.append(dp is not None)
            has_segm.append(dp_masks is not None)
        if segms:
            segm_tensor = torch.from_numpy(np.stack(segms))
        else:
            segm_tensor = torch.zeros((0, DP_BOX_SIZE, DP_BOX_SIZE), dtype=torch.uint8)
        results['gt_densepose'] = DensePoseTargets(
            points, segm_tensor, torch.tensor(has_dp, dtype=torch.bool),
            torch.tensor(has_segm, dtype=torch.bool))

    def transform(self, results: dict) -> dict:
        """Load the annotations of one sample.

        Args:
            results (dict): Data info from the dataset (``instances``, ...).

        Returns:
            dict: ``results`` with the ``gt_*`` keys added.
        """
        results = super().transform(results)
        if self.with_keypoints:
            self._load_keypoints(results)
        if self.with_densepose:
            self._load_densepose(results)
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', with_keypoints={self.with_keypoints}, '
                f'with_densepose={self.with_densepose})')
