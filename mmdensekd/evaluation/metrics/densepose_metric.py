# Copyright (c) mmdensekd contributors. All rights reserved.
"""COCO DensePose metric (GPS, GPSm and IOU AP/AR) for mmengine evaluators."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_local_path
from mmengine.logging import MMLogger

from mmdensekd.datasets.densepose_validation import validate_densepose_gt
from mmdensekd.registry import METRICS
from mmdensekd.utils.misc import to_numpy

from ..functional import DENSEPOSE_MODES, dump_densepose_results, evaluate, load_densepose_eval_data


def _get(obj, key: str):
    """``obj[key]`` for dicts, ``obj.key`` for data elements."""
    if isinstance(obj, dict):
        if key not in obj:
            raise KeyError(key)
        return obj[key]
    return getattr(obj, key)


@METRICS.register_module()
class DensePoseMetric(BaseMetric):
    """COCO DensePose evaluation: GPS, GPSm and IOU AP / AR.

    Reports for each mode ``{mode}_{AP, AP50, AP75, APm, APl, AR, AR50, AR75,
    ARm, ARl}`` (e.g. ``densepose/GPS_AP``), maxDets 20, areas all / medium /
    large. GPS and GPSm need the official geodesic files
    (``SMPL_subdiv.mat``, ``SMPL_SUBDIV_TRANSFORM.mat``, ``Pdist_matrix.pkl``)
    in ``eval_data_dir``; without them the log names the missing file and
    where to get it, and only IOU is reported.

    Args:
        ann_file (str): DensePose-COCO annotation file (ground truth).
        metrics (str | Sequence[str]): modes among ``'GPS'``, ``'GPSm'``,
            ``'IOU'``. Defaults to all three.
        eval_data_dir (str, optional): directory of the geodesic files;
            None falls back to ``$MMDENSEKD_EVAL_DATA``.
        outfile_path (str, optional): where to write the results in the COCO
            DensePose challenge format (JSON). Defaults to None (not written).
        gps_kappa (float, optional): one GPS normalisation constant for all
            points (0.255 reproduces the 2018 challenge); None = the
            per-part constants of the current protocol.
        max_dets (int): detections kept per image and category (best
            scores); the protocol evaluates 20.
        format_only (bool): only write ``outfile_path``, no evaluation.
        skip_invalid_densepose (bool): the ground truth is validated when the
            metric is built (before inference), with the dataset's checks
            (unique image ids, known categories, finite non-empty boxes,
            DensePose ranges, 14 well-formed RLE masks). False (default): an
            error naming ``ann_file`` and the ids. True: invalid items are
            dropped, counted and logged, as the dataset does.
        backend_args (dict, optional): mmengine file backend arguments.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): metric name prefix; defaults to
            ``'densepose'``.
    """
    default_prefix: Optional[str] = 'densepose'

    def __init__(self,
                 ann_file: str,
                 metrics: Union[str, Sequence[str]] = DENSEPOSE_MODES,
                 eval_data_dir: Optional[str] = None,
                 outfile_path: Optional[str] = None,
                 gps_kappa: Optional[float] = None,
                 max_dets: int = 20,
                 format_only: bool = False,
                 skip_invalid_densepose: bool = False,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        for m in self.metrics:
            if m not in DENSEPOSE_MODES:
                raise ValueError(f'metrics: unknown DensePose mode {m!r}, expected a subset of '
                                 f'{DENSEPOSE_MODES}')
        if not self.metrics:
            raise ValueError('metrics: at least one DensePose mode is needed')
        if not isinstance(max_dets, int) or max_dets < 1:
            raise ValueError(f'max_dets must be a positive int, got {max_dets!r}')
        if format_only and not outfile_path:
            raise ValueError('format_only=True needs outfile_path')
        if not isinstance(ann_file, str) or not ann_file:
            raise TypeError(f'ann_file must be a path, got {ann_file!r}')
        self.ann_file = ann_file
        self.eval_data_dir = eval_data_dir
        self.outfile_path = outfile_path
        self.gps_kappa = gps_kappa
        self.max_dets = max_dets
        self.format_only = format_only
        with get_local_path(ann_file, backend_args=backend_args) as local:
            if not osp.isfile(local):
                raise FileNotFoundError(f'ann_file {ann_file} not found')
            with open(local) as f:
                self._gt = json.load(f)
        for key in ('images', 'annotations', 'categories'):
            if key not in self._gt:
                raise KeyError(f'ann_file {ann_file} has no {key!r} list')
        if not isinstance(skip_invalid_densepose, bool):
            raise TypeError(f'skip_invalid_densepose must be a bool, got '
                            f'{skip_invalid_densepose!r}')
        report = validate_densepose_gt(self._gt, ann_file, skip_invalid=skip_invalid_densepose)
        if report.total:
            MMLogger.get_current_instance().warning(
                report.summary(ann_file) + ' (skip_invalid_densepose=True)')

    def _cat_ids(self) -> List[int]:
        """Category id of each label index (by class name when known)."""
        cats = sorted(self._gt['categories'], key=lambda c: c['id'])
        classes = (self.dataset_meta or {}).get('classes')
        if classes:
            by_name = {c.get('name'): c['id'] for c in cats}
            if all(n in by_name for n in classes):
                return [by_name[n] for n in classes]
        return [c['id'] for c in cats]

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep the best ``max_dets`` detections per image and label with
        their IUV charts (uint8, as in the results format).

        Args:
            data_batch (dict): unused.
            data_samples (Sequence[dict]): samples with ``img_id`` and
                ``pred_instances`` (``bboxes`` (N, 4) xyxy in the original
                image, ``scores`` (N,), ``labels`` (N,), ``densepose``
                :class:`DensePoseChartResults`).
        """
        for sample in data_samples:
            img_id = _get(sample, 'img_id')
            pred = _get(sample, 'pred_instances')
            try:
                dp = _get(pred, 'densepose')
            except (KeyError, AttributeError) as e:
                raise KeyError(f'image {img_id}: pred_instances has no "densepose" (the model '
                               'must predict DensePose charts for DensePoseMetric)') from e
            bboxes = to_numpy(_get(pred, 'bboxes')).reshape(-1, 4).astype(np.float64)
            scores = to_numpy(_get(pred, 'scores')).reshape(-1).astype(np.float64)
            labels = to_numpy(_get(pred, 'labels')).reshape(-1).astype(np.int64)
            if not (len(bboxes) == len(scores) == len(labels) == len(dp)):
                raise ValueError(f'image {img_id}: {len(bboxes)} boxes, {len(scores)} scores, '
                                 f'{len(labels)} labels and {len(dp)} DensePose charts')
            bad = ~(np.isfinite(bboxes).all(axis=1) & np.isfinite(scores))
            if bad.any():
                where = sample.get('img_path') if isinstance(sample, dict) else None
                raise ValueError(
                    f'image {img_id}{f" ({where})" if where else ""}: {int(bad.sum())} '
                    f'predicted box(es)/score(s) hold NaN or Inf (first: prediction '
                    f'{int(np.argmax(bad))}, bbox {bboxes[bad][0].tolist()}); the model '
                    'diverged or its checkpoint holds non-finite weights')
            dets = []
            for label in np.unique(labels):
                idx = np.nonzero(labels == label)[0]
                idx = idx[np.argsort(-scores[idx], kind='mergesort')[:self.max_dets]]
                for i in idx:
                    x0, y0, x1, y1 = bboxes[i]
                    dets.append(dict(label=int(label), bbox=[x0, y0, x1 - x0, y1 - y0],
                                     score=float(scores[i]), iuv=dp.iuv(int(i))))
            self.results.append((img_id, dets))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Evaluate the collected results.

        Args:
            results (list[tuple]): (img_id, detections) of every image.

        Returns:
            dict: ``'{mode}_{stat}'`` -> value.
        """
        logger = MMLogger.get_current_instance()
        cat_ids = self._cat_ids()
        flat = []
        for img_id, dets in results:
            for det in dets:
                if not 0 <= det['label'] < len(cat_ids):
                    raise ValueError(f'image {img_id}: label {det["label"]} has no category in '
                                     f'{self.ann_file} ({len(cat_ids)} categories)')
                flat.append(dict(image_id=img_id, category_id=cat_ids[det['label']],
                                 bbox=det['bbox'], score=det['score'], iuv=det['iuv']))
        if self.outfile_path:
            dump_densepose_results(flat, self.outfile_path)
            logger.info(f'DensePose results ({len(flat)}) written to {self.outfile_path}')
        if self.format_only:
            return {}
        need_geodesic = any(m in ('GPS', 'GPSm') for m in self.metrics)
        eval_data = load_densepose_eval_data(self.eval_data_dir) if need_geodesic else None
        return evaluate(self._gt, flat, modes=self.metrics, eval_data=eval_data,
                        img_ids=[img_id for img_id, _ in results], gps_kappa=self.gps_kappa,
                        max_dets=self.max_dets, source=self.ann_file, validate=False)
