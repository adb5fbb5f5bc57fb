# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose-COCO dataset: boxes, person keypoints and DensePose annotations."""
import json
import logging
import os.path as osp
from typing import List, Optional, Union

import numpy as np
from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmengine.logging import MMLogger, print_log

from mmdensekd.registry import DATASETS

from .coco_keypoints import (
    COCO_KEYPOINT_FLIP_INDICES,
    COCO_KEYPOINT_FLIP_PAIRS,
    COCO_KEYPOINT_NAMES,
    NUM_COCO_KEYPOINTS,
)
from .densepose_parsing import parse_densepose
from .densepose_validation import GTValidationReport, validate_densepose_gt

#: Exceptions of a sample's pipeline that ``skip_invalid_densepose=True``
#: turns into a counted skip (a corrupt or missing image, a CSI file with
#: NaN/Inf or the wrong shape...). mmcv's loaders assert on undecodable images.
DATA_ERRORS = (ValueError, OSError, AssertionError)


class _CheckedCOCO(COCO):
    """mmdet's COCO api that validates the raw json before indexing it."""

    def __init__(self, annotation_file: str, source: str, skip_invalid: bool,
                 report: GTValidationReport) -> None:
        self._source = source
        self._skip_invalid = skip_invalid
        self._report = report
        try:
            super().__init__(annotation_file)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f'annotation file {source} is not valid JSON (truncated or not '
                             f'a COCO json?): {err}') from None

    def createIndex(self, *args, **kwargs) -> None:  # noqa: N802 - COCO api name
        if self.dataset:
            validate_densepose_gt(self.dataset, self._source, skip_invalid=self._skip_invalid,
                                  check_densepose=False, report=self._report)
        super().createIndex(*args, **kwargs)


@DATASETS.register_module()
class DensePoseCocoDataset(CocoDataset):
    """DensePose-COCO: person boxes, 17 COCO keypoints and DensePose charts.

    The annotation file is a COCO json whose person annotations may also carry
    the DensePose fields ``dp_x, dp_y, dp_I, dp_U, dp_V`` and ``dp_masks``
    (14 RLE masks in the 256x256 box frame). Box and ignore
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

    The ground truth is first checked by
    :func:`~mmdensekd.datasets.densepose_validation.validate_densepose_gt`
    (the evaluator runs the same checks): duplicate image ids, annotations of
    unknown images or categories, boxes with NaN / Inf or width / height
    <= 0 raise a ``ValueError`` naming the file and ids. Annotations mmdet's
    rules leave out (crowd ``ignore``, boxes outside the image or under 1
    pixel, other classes) are counted and logged (``num_filtered``).

    Args:
        skip_invalid_densepose (bool): How to treat invalid data. False
            (default): raise an error naming the annotation file, image id and
            annotation id (or the file). True: skip and count instead, logging
            the counts: invalid DensePose fields (arrays of unequal length,
            ``dp_I`` outside 1..24, ``dp_U``/``dp_V`` outside [0, 1],
            ``dp_x``/``dp_y`` outside [0, 256], ``dp_masks`` not of length 14,
            malformed RLE) drop the DensePose fields of that instance only
            (its box and keypoints stay; ``num_skipped_densepose``); invalid
            ground truth (see above) is dropped (``gt_report``); images whose
            file is missing are dropped (``num_missing_images``); in training,
            a sample whose pipeline raises a data error (``ValueError``,
            ``OSError``, e.g. a corrupt image or a CSI file with NaN) is
            replaced by another one (``num_skipped_samples``). In test mode
            (``test_mode=True``: evaluation, ``tools/test.py``) nothing is
            ever skipped, whatever this flag says: a metric must be computed
            on every image, so invalid data is an error there (missing image
            files are named when the dataset loads).
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
        self.num_missing_images = 0
        self.num_skipped_samples = 0
        self.num_filtered: dict = {}
        self.gt_report = GTValidationReport()
        super().__init__(*args, **kwargs)

    def _log(self, msg: str, level: int = logging.WARNING) -> None:
        print_log(f'{self.__class__.__name__}: {msg}', logger=MMLogger.get_current_instance(),
                  level=level)

    def load_data_list(self) -> List[dict]:
        """Load and validate the annotations; log every count of skipped or
        filtered items.

        Returns:
            list[dict]: One data info per image.
        """
        self.num_skipped_densepose = 0
        self.num_missing_images = 0
        self.num_filtered = {}
        self.gt_report = GTValidationReport()
        if self.skip_invalid_densepose and self.test_mode:
            self._log(f'{self.ann_file}: test mode never skips: skip_invalid_densepose=True '
                      'is ignored, invalid data is an error', logging.INFO)
        self.COCOAPI = lambda path: _CheckedCOCO(path, self.ann_file, self._skip, self.gt_report)
        try:
            data_list = super().load_data_list()
        finally:
            del self.COCOAPI
        if self.gt_report.total:
            self._log(self.gt_report.summary(self.ann_file) + ' (skip_invalid_densepose=True)')
        if self.num_skipped_densepose > 0:
            self._log(f'skipped the invalid DensePose annotations of '
                      f'{self.num_skipped_densepose} instance(s) in {self.ann_file} '
                      '(skip_invalid_densepose=True; their boxes are kept)')
        if self.num_filtered:
            counts = ', '.join(f'{k}: {v}' for k, v in sorted(self.num_filtered.items()))
            self._log(f'{self.ann_file}: left out {sum(self.num_filtered.values())} '
                      f'annotation(s) by the mmdet selection rules ({counts})', logging.INFO)
        if self._skip:
            data_list = self._drop_missing_images(data_list)
        elif self.test_mode:
            self._check_images_exist(data_list)
        return data_list

    @property
    def _skip(self) -> bool:
        """Whether invalid data is skipped: only in training, when asked."""
        return self.skip_invalid_densepose and not self.test_mode

    def _check_images_exist(self, data_list: List[dict]) -> None:
        """Test mode: name the missing image (or CSI) files before inference."""
        if (self.backend_args or {}).get('backend', 'local') != 'local':
            return
        # only the files the pipeline reads (a CSI-only pipeline reads no image)
        loaders = [type(t).__name__ for t in getattr(self.pipeline, 'transforms', [])]
        keys = [key for key, loader in (('img_path', 'LoadImage'), ('csi_path', 'LoadCSI'))
                if any(name.startswith(loader) for name in loaders)]
        missing = [(info.get('img_id'), info[key]) for info in data_list for key in keys
                   if info.get(key) and not osp.isfile(info[key])]
        if missing:
            shown = ', '.join(f'{p} (image id {i})' for i, p in missing[:3])
            raise FileNotFoundError(
                f'{self.ann_file}: {len(missing)} of {len(data_list)} images have no file '
                f'(test mode never skips: every image is evaluated): {shown}'
                + (', ...' if len(missing) > 3 else ''))

    def _drop_missing_images(self, data_list: List[dict]) -> List[dict]:
        """Drop (count, log) images whose local file does not exist."""
        if (self.backend_args or {}).get('backend', 'local') != 'local':
            return data_list
        kept = []
        for info in data_list:
            # the image, and for paired WiFi data the CSI file
            missing = [(key, info[key]) for key in ('img_path', 'csi_path')
                       if info.get(key) and not osp.isfile(info[key])]
            if missing:
                self.num_missing_images += 1
                if self.num_missing_images <= 3:
                    key, path = missing[0]
                    self._log(f'{self.ann_file}: image id {info.get("img_id")}: '
                              f'{key[:-5]} file {path} does not exist; skipped '
                              '(skip_invalid_densepose=True)')
                continue
            kept.append(info)
        if self.num_missing_images:
            self._log(f'{self.ann_file}: skipped {self.num_missing_images} image(s) whose '
                      'image (or CSI) file does not exist (skip_invalid_densepose=True)')
        return kept

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Run the pipeline on sample ``idx``.

        With ``skip_invalid_densepose=True`` in training, a data error of the
        pipeline (see :data:`DATA_ERRORS`) is logged and counted and None is
        returned, so that mmengine's ``BaseDataset.__getitem__`` draws
        another sample. In test mode errors always propagate (a skipped test
        image would bias the evaluation).

        Args:
            idx (int): Sample index.

        Returns:
            dict | None: The packed sample, or None when skipped.
        """
        if not self.skip_invalid_densepose or self.test_mode:
            return super().prepare_data(idx)
        try:
            return super().prepare_data(idx)
        except DATA_ERRORS as err:
            self.num_skipped_samples += 1
            info = self.get_data_info(idx)
            self._log(f'sample {idx} (image id {info.get("img_id")}, '
                      f'{info.get("img_path")}) skipped: {type(err).__name__}: {err} '
                      f'({self.num_skipped_samples} sample(s) skipped so far; '
                      'skip_invalid_densepose=True)')
            return None

    def filter_data(self) -> List[dict]:
        """mmdet's ``filter_cfg`` filtering, with the dropped images logged.

        Returns:
            list[dict]: The kept data infos.
        """
        kept = super().filter_data()
        dropped = len(self.data_list) - len(kept)
        if dropped:
            self._log(f'{self.ann_file}: filter_cfg={self.filter_cfg} left out {dropped} of '
                      f'{len(self.data_list)} image(s) (no usable instance, or too small)',
                      logging.INFO)
        return kept

    def _filtered(self, reason: str) -> None:
        self.num_filtered[reason] = self.num_filtered.get(reason, 0) + 1

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
            if not self._skip:
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
            # same selection rules as mmdet's CocoDataset, each drop counted
            # (NaN / Inf / empty boxes were rejected by the validation)
            if ann.get('ignore', False):
                self._filtered('ignore flag')
                continue
            x1, y1, w, h = ann['bbox']
            inter_w = max(0, min(x1 + w, width) - max(x1, 0))
            inter_h = max(0, min(y1 + h, height) - max(y1, 0))
            if inter_w * inter_h == 0:
                self._filtered('box outside the image')
                continue
            if ann.get('area', w * h) <= 0 or w < 1 or h < 1:
                self._filtered('box or area under 1 pixel')
                continue
            if ann['category_id'] not in self.cat_ids:
                self._filtered('category not in classes')
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

