# Copyright (c) mmdensekd contributors. All rights reserved.
"""COCO keypoint OKS AP of a detector's keypoint predictions.

Shape legend: ``N`` predicted instances of one image, ``K`` keypoints.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump, get_local_path
from mmengine.logging import MMLogger

from mmdensekd.registry import METRICS
from mmdensekd.utils.misc import to_numpy

# Per-keypoint OKS falloff constants of the 17 COCO person keypoints
# (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
COCO_KEYPOINT_SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89
]) / 10.0

STATS_NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5', 'AR .75', 'AR (M)',
               'AR (L)')


@METRICS.register_module()
class CocoKeypointMetric(BaseMetric):
    """COCO keypoint AP / AR (OKS) of ``pred_instances`` from a detector.

    Every predicted person of every image is scored against the ground truth
    of ``ann_file`` with xtcocotools' ``COCOeval`` (``iouType='keypoints'``,
    the 17 COCO sigmas, maxDets 20, area ranges medium / large). Each result
    carries its box (xywh), so, as in detectron2 and mmpose, a detection's
    area for the area ranges is its box area.

    Args:
        ann_file (str): COCO keypoint annotation file (ground truth).
        score_mode (str): Score of a predicted person: ``'bbox'`` (the
            detection score, Keypoint R-CNN's choice), ``'keypoint'`` (mean
            keypoint score) or ``'bbox_keypoint'`` (detection score x mean
            of the keypoint scores above ``keypoint_score_thr``, as mmpose).
            Defaults to ``'bbox'``.
        keypoint_score_thr (float): See ``score_mode``. Defaults to 0.2.
        person_label (int, optional): Keep only predictions with this label
            when ``labels`` are predicted; None keeps all. Defaults to 0.
        sigmas (Sequence[float], optional): Per-keypoint OKS sigmas.
            Defaults to the COCO sigmas.
        use_area (bool): Use the GT ``area`` for OKS. Defaults to True.
        outfile_prefix (str, optional): If set, results are also dumped to
            ``{outfile_prefix}.keypoints.json``. Defaults to None.
        format_only (bool): Only dump the results (needs
            ``outfile_prefix``). Defaults to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'coco-keypoint'``.
        backend_args (dict, optional): File backend arguments.
    """

    default_prefix: Optional[str] = 'coco-keypoint'

    def __init__(self,
                 ann_file: str,
                 score_mode: str = 'bbox',
                 keypoint_score_thr: float = 0.2,
                 person_label: Optional[int] = 0,
                 sigmas: Optional[Sequence[float]] = None,
                 use_area: bool = True,
                 outfile_prefix: Optional[str] = None,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if score_mode not in ('bbox', 'keypoint', 'bbox_keypoint'):
            raise ValueError("`score_mode` must be 'bbox', 'keypoint' or 'bbox_keypoint', "
                             f'got {score_mode!r}')
        if format_only and outfile_prefix is None:
            raise ValueError('`format_only=True` needs `outfile_prefix`')
        from xtcocotools.coco import COCO

        self.score_mode = score_mode
        self.keypoint_score_thr = float(keypoint_score_thr)
        self.person_label = person_label
        self.use_area = use_area
        self.outfile_prefix = outfile_prefix
        self.format_only = format_only
        self.ann_file = ann_file
        if not osp.isfile(ann_file) and backend_args is None:
            raise FileNotFoundError(f'`ann_file` not found: {ann_file}')
        with get_local_path(ann_file, backend_args=backend_args) as local_path:
            self.coco = COCO(local_path)
        kpt_cats = [c for c in self.coco.dataset.get('categories', []) if c.get('keypoints')]
        if not kpt_cats:
            raise ValueError(f'{ann_file}: no category with "keypoints" to evaluate')
        self.cat_id = int(kpt_cats[0]['id'])
        self.num_keypoints = len(kpt_cats[0]['keypoints'])
        self.sigmas = (COCO_KEYPOINT_SIGMAS if sigmas is None
                       else np.asarray(sigmas, dtype=np.float64))
        if len(self.sigmas) != self.num_keypoints:
            raise ValueError(f'`sigmas` has {len(self.sigmas)} values but {ann_file} defines '
                             f'{self.num_keypoints} keypoints')

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Collect the predicted persons of each sample.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict | DetDataSample]): Each with
                ``img_id`` and ``pred_instances`` holding ``bboxes`` (N, 4)
                xyxy, ``scores`` (N,), ``keypoints`` (N, K, 2),
                ``keypoint_scores`` (N, K) and optionally ``labels`` (N,), in
                the original image frame.
        """
        for sample in data_samples:
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            img_id = sample.get('img_id')
            preds = sample.get('pred_instances')
            if img_id is None or preds is None:
                raise ValueError('CocoKeypointMetric needs `img_id` and `pred_instances` in '
                                 f'every data sample, got keys {sorted(sample)}')
            missing = [k for k in ('bboxes', 'scores', 'keypoints', 'keypoint_scores')
                       if k not in preds]
            if missing:
                raise ValueError(f'image {img_id}: pred_instances lacks {missing}')
            bboxes = to_numpy(preds['bboxes'], np.float64).reshape(-1, 4)
            scores = to_numpy(preds['scores'], np.float64).reshape(-1)
            keypoints = to_numpy(preds['keypoints'], np.float64)
            kpt_scores = to_numpy(preds['keypoint_scores'], np.float64)
            num = len(bboxes)
            if num == 0:  # an image without detections
                keypoints = keypoints.reshape(0, self.num_keypoints, 2)
                kpt_scores = kpt_scores.reshape(0, self.num_keypoints)
            if (len(scores) != num or keypoints.shape != (num, self.num_keypoints, 2)
                    or kpt_scores.shape != (num, self.num_keypoints)):
                raise ValueError(
                    f'image {img_id}: inconsistent pred_instances shapes bboxes '
                    f'{bboxes.shape}, scores {scores.shape}, keypoints {keypoints.shape}, '
                    f'keypoint_scores {kpt_scores.shape} (K={self.num_keypoints})')
            finite = (np.isfinite(bboxes).all(1) & np.isfinite(scores)
                      & np.isfinite(keypoints).reshape(num, -1).all(1))
            if not finite.all():
                raise ValueError(
                    f'image {img_id} ({sample.get("img_path", "?")}): prediction '
                    f'{int(np.argmin(finite))} has a NaN/Inf box, score or keypoint '
                    f'({int((~finite).sum())} of {num}); the model diverged or its '
                    'checkpoint holds non-finite weights')
            keep = np.ones(num, dtype=bool)
            if self.person_label is not None and 'labels' in preds:
                keep = to_numpy(preds['labels'], np.int64).reshape(-1) == self.person_label
            # one entry per data sample: the evaluator truncates the
            # collected results to the dataset size
            self.results.append(
                dict(img_id=int(img_id), bboxes=bboxes[keep], scores=scores[keep],
                     keypoints=keypoints[keep], keypoint_scores=kpt_scores[keep]))

    def _instance_score(self, score: float, kpt_scores: np.ndarray) -> float:
        """Score of one predicted person according to ``score_mode``."""
        if self.score_mode == 'bbox':
            return float(score)
        if self.score_mode == 'keypoint':
            return float(np.mean(kpt_scores))
        above = kpt_scores[kpt_scores > self.keypoint_score_thr]
        return float(score) * (float(above.mean()) if above.size else 0.0)

    def results2coco(self, results: List[dict]) -> List[dict]:
        """Convert collected predictions to the COCO keypoint results format."""
        coco_results = []
        for res in results:
            for i in range(len(res['bboxes'])):
                x0, y0, x1, y1 = res['bboxes'][i]
                kpts = np.concatenate([res['keypoints'][i], res['keypoint_scores'][i][:, None]],
                                      axis=1)
                score = self._instance_score(res['scores'][i], res['keypoint_scores'][i])
                coco_results.append(
                    dict(image_id=res['img_id'], category_id=self.cat_id,
                         keypoints=kpts.reshape(-1).tolist(), score=score,
                         bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)]))
        return coco_results

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Run COCOeval on the collected predictions.

        Args:
            results (list[dict]): Per-image results from :meth:`process`.

        Returns:
            dict[str, float]: ``AP``, ``AP .5``, ``AP .75``, ``AP (M)``,
            ``AP (L)``, ``AR``, ``AR .5``, ``AR .75``, ``AR (M)``, ``AR (L)``
            (prefixed ``coco-keypoint/`` by the evaluator).
        """
        from xtcocotools.cocoeval import COCOeval

        logger = MMLogger.get_current_instance()
        coco_results = self.results2coco(results)
        if self.outfile_prefix is not None:
            out_file = f'{self.outfile_prefix}.keypoints.json'
            dump(coco_results, out_file)
            logger.info(f'keypoint results written to {out_file}')
        if self.format_only:
            return {}
        if not coco_results:
            logger.warning('CocoKeypointMetric: no predicted person; all metrics are 0')
            return OrderedDict((name, 0.0) for name in STATS_NAMES)
        unknown = {r['image_id'] for r in coco_results} - set(self.coco.getImgIds())
        if unknown:
            raise ValueError(f'predictions for image ids {sorted(unknown)[:10]} that are not in '
                             f'{self.ann_file}')
        coco_dt = self.coco.loadRes(coco_results)
        coco_eval = COCOeval(self.coco, coco_dt, 'keypoints', self.sigmas, self.use_area)
        coco_eval.params.useSegm = None
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
        return OrderedDict(
            (name, float(value)) for name, value in zip(STATS_NAMES, coco_eval.stats))


__all__ = ['CocoKeypointMetric', 'COCO_KEYPOINT_SIGMAS']
