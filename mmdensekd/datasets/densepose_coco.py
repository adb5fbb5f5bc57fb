# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose-COCO dataset: boxes, person keypoints and DensePose annotations."""
import logging
from typing import List, Union

import numpy as np
from mmdet.datasets import CocoDataset
from mmengine.logging import MMLogger, print_log

from mmdensekd.registry import DATASETS

from .coco_keypoints import (
    COCO_KEYPOINT_FLIP_INDICES,
    COCO_KEYPOINT_FLIP_PAIRS,
    COCO_KEYPOINT_NAMES,
    NUM_COCO_KEYPOINTS,
)
from .densepose_parsing import parse_densepose


@DATASETS.register_module()
class DensePoseCocoDataset(CocoDataset):
    """DensePose-COCO: person boxes, 17 COCO keypoints and DensePose charts.

    The annotation file is a COCO json whose person annotations may also carry
    the DensePose fields ``dp_x, dp_y, dp_I, dp_U, dp_V`` and ``dp_masks``
    (14 RLE masks in the 256x256 box frame, DESIGN section 5). Box and ignore
    handling follow mmdet's :class:`CocoDataset` (crowd boxes become ignored
    instances; degenerate boxes are dropped; ``filter_cfg`` works as there).
    Instances without DensePose are kept and marked (``has_dp=False``): they
    still train the box and keypoint branches.

    Each instance of ``data_info['instances']`` holds, besides mmdet's
    ``bbox`` (xyxy), ``bbox_label``, ``ignore_flag`` (and ``mask``):

    - ``ann_id`` (int): the COCO annotation id, for error messages;
    - ``keypoints`` (np.ndarray): (17, 2) float32 pixel coordinates;
    - ``keypoints_visible`` (np.ndarray): (17,) float32, 1 where COCO v > 0;
    - ``dp`` (dict | None): float arrays ``x, y, I, U, V`` of shape (P,);
    - ``dp_masks`` (list | None): 14 entries, each an RLE dict or None;
    - ``has_dp`` (bool): whether ``dp`` is set.

    Args:
        skip_invalid_densepose (bool): How to treat invalid DensePose fields
            (arrays of unequal length, ``dp_I`` outside 1..24, ``dp_U``/``dp_V``
            outside [0, 1], ``dp_x``/``dp_y`` outside [0, 256], ``dp_masks``
            not of length 14, malformed RLE). False (default): raise a
            ``ValueError`` naming the annotation file, image id and annotation
            id. True: drop the DensePose fields of that instance only (its box
            and keypoints stay), count it, and log the count once the
            annotations are loaded (the count is kept in
            ``num_skipped_densepose``).
        **kwargs: Arguments of :class:`mmdet.datasets.CocoDataset`
            (``ann_file``, ``data_root``, ``data_prefix=dict(img=...)``,
            ``filter_cfg``, ``pipeline``, ``test_mode``, ...).
    """

    METAINFO = {
        'classes': ('person', ),
        'palette': [(220, 20, 60)],
        'keypoint_names': COCO_KEYPOINT_NAMES,
        'num_keypoints': NUM_COCO_KEYPOINTS,
        'flip_pairs': COCO_KEYPOINT_FLIP_PAIRS,
        'flip_indices': COCO_KEYPOINT_FLIP_INDICES,
    }

    def __init__(self, *args, skip_invalid_densepose: bool = False, **kwargs) -> None:
        if not isinstance(skip_invalid_densepose, bool):
            raise TypeError('skip_invalid_densepose must be a bool, got '
                            f'{type(skip_invalid_densepose).__name__}')
        self.skip_invalid_densepose = skip_invalid_densepose
        self.num_skipped_densepose = 0
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Load the annotations; log how many DensePose fields were skipped.

        Returns:
            list[dict]: One data info per image.
        """
        self.num_skipped_densepose = 0
        data_list = super().load_data_list()
        if self.num_skipped_densepose > 0:
            print_log(
                f'{self.__class__.__name__}: skipped the invalid DensePose '
                f'annotations of {self.num_skipped_densepose} instance(s) in '
                f'{self.ann_file} (skip_invalid_densepose=True; their boxes are '
                'kept)',
                logger=MMLogger.get_current_instance(),
                level=logging.WARNING)
        return data_list

    def _where(self, img_id, ann_id) -> str:
        return f'{self.ann_file}: image id {img_id}, annotation id {ann_id}'

    def _parse_keypoints(self, ann: dict, where: str):
        raw = ann.get('keypoints', None)
        if not raw:
            return (np.zeros((NUM_COCO_KEYPOINTS, 2), dtype=np.float32),
                    np.zeros(NUM_COCO_KEYPOINTS, dtype=np.float32))
        kpts = np.asarray(raw, dtype=np.float32).reshape(-1)
        if kpts.size != NUM_COCO_KEYPOINTS * 3:
            raise ValueError(f'{where}: keypoints must hold {NUM_COCO_KEYPOINTS} x 3 '
                             f'values (x, y, v), got {kpts.size}')
        kpts = kpts.reshape(NUM_COCO_KEYPOINTS, 3)
        return kpts[:, :2].copy(), (kpts[:, 2] > 0).astype(np.float32)

    def _parse_densepose(self, ann: dict, where: str):
        try:
            return parse_densepose(ann, where)
        except ValueError:
            if not self.skip_invalid_densepose:
                raise
            self.num_skipped_densepose += 1
            return None, None

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        """Parse one image and its annotations.

        Args:
            raw_data_info (dict): ``raw_img_info`` (the COCO image entry plus
                ``img_id``) and ``raw_ann_info`` (its COCO annotations).

        Returns:
            dict: ``img_path``, ``img_id``, ``seg_map_path``, ``height``,
            ``width`` and ``instances`` (see the class docstring).

        Raises:
            ValueError: On invalid DensePose or keypoint fields, naming the
                annotation file, the image id and the annotation id.
        """
        img_info = raw_data_info['raw_img_info']
        # mmdet's parser fills the image-level fields; instances are ours.
        data_info = super().parse_data_info(dict(raw_img_info=img_info, raw_ann_info=[]))
        img_id = img_info['img_id']
        width, height = img_info['width'], img_info['height']

        instances = []
        for ann in raw_data_info['raw_ann_info']:
            # same selection rules as mmdet's CocoDataset
            if ann.get('ignore', False):
                continue
            x1, y1, w, h = ann['bbox']
            inter_w = max(0, min(x1 + w, width) - max(x1, 0))
            inter_h = max(0, min(y1 + h, height) - max(y1, 0))
            if inter_w * inter_h == 0:
                continue
            if ann['area'] <= 0 or w < 1 or h < 1:
                continue
            if ann['category_id'] not in self.cat_ids:
                continue
            where = self._where(img_id, ann.get('id'))
            instance = dict(
                ann_id=ann.get('id'),
                bbox=[x1, y1, x1 + w, y1 + h],
                bbox_label=self.cat2label[ann['category_id']],
                ignore_flag=1 if ann.get('iscrowd', False) else 0)
            if ann.get('segmentation', None):
                instance['mask'] = ann['segmentation']
            instance['keypoints'], instance['keypoints_visible'] = \
                self._parse_keypoints(ann, where)
            dp, dp_masks = self._parse_densepose(ann, where)
            instance['dp'] = dp
            instance['dp_masks'] = dp_masks
            instance['has_dp'] = dp is not None
            instances.append(instance)
        data_info['instances'] = instances
        return data_info

