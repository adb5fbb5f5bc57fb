# Copyright (c) mmdensekd contributors. All rights reserved.
"""Where does a model's keypoint AP go: the box or the pose?

COCO keypoint AP needs both: the keypoints are scored by OKS, whose tolerance
is a few per cent of the person's size, so a box a tenth of a body off costs
as much as a wrong pose. This tool re-scores a model's keypoint results
(``{outfile_prefix}.keypoints.json`` of ``RCNNKeypointMetric``, e.g. from
``tools/test.py ... --cfg-options test_evaluator.1.outfile_prefix=PREFIX``)
with COCO keypoint AP (xtcocotools, COCO sigmas, as the metric) in four
variants, each detection matched to the ground-truth person of its image
with the highest box IoU (IoU > ``--min-iou``; unmatched detections are kept
as they are):

* ``as predicted``;
* ``true pose in its box``: the matched person's exact box-relative pose
  placed in the detection's box: perfect pose knowledge at the model's box
  precision (the ceiling of any pose improvement);
* ``its pose in the true box``: the detection's box-relative pose placed in
  the matched person's box: the model's pose at perfect box precision;
* ``template in the true box``: the mean box-relative pose of
  ``--template-ann`` (the training annotations) in the matched person's box:
  what no pose knowledge at all gives at perfect box precision.

If ``true pose in its box`` is far below a bar, box precision bounds the
keypoint AP; if ``its pose in the true box`` is no better than the template,
the model draws a template.

Usage::

    python tools/analysis/keypoint_ap_breakdown.py GT_JSON RESULTS_JSON
        [--template-ann TRAIN_JSON] [--min-iou 0.1] [--out breakdown.json]
"""
import argparse
import copy
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmdensekd.evaluation.metrics.rcnn_keypoint_metric import COCO_KEYPOINT_SIGMAS


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('gt', help='COCO keypoint ground truth (e.g. densepose_val.json)')
    p.add_argument('results', help='COCO keypoint results json (with "bbox")')
    p.add_argument('--template-ann', default=None, help='annotations whose mean '
                   'box-relative pose is the template (default: the ground truth)')
    p.add_argument('--min-iou', type=float, default=0.1,
                   help='box IoU a detection needs to be matched to a person')
    p.add_argument('--out', default=None, help='write the APs as json here')
    return p.parse_args(argv)


def _load(path: str, what: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} {path} does not exist')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{what} {path} is not valid json ({err})') from err


def relative_pose(ann: dict) -> np.ndarray:
    """(K, 2) keypoints of ``ann`` relative to its box (0..1)."""
    x, y, w, h = ann['bbox']
    kpt = np.reshape(ann['keypoints'], (-1, 3))[:, :2]
    return (kpt - [x, y]) / [max(w, 1e-6), max(h, 1e-6)]


def template_pose(anns: List[dict]) -> np.ndarray:
    """Mean box-relative pose over the labelled keypoints of ``anns``."""
    total, count = None, None
    for ann in anns:
        if not ann.get('num_keypoints', 0) or ann.get('iscrowd'):
            continue
        vis = np.reshape(ann['keypoints'], (-1, 3))[:, 2] > 0
        rel = relative_pose(ann)
        if total is None:
            total, count = np.zeros_like(rel), np.zeros(len(rel))
        total[vis] += rel[vis]
        count[vis] += 1
    if total is None:
        raise ValueError('no annotated person with keypoints for the template')
    return total / np.maximum(count, 1)[:, None]


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of xywh boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), -1)
    area = lambda x: x[:, 2] * x[:, 3]  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-12)


def place(rel: np.ndarray, box: Sequence[float], scores: np.ndarray) -> List[float]:
    """COCO ``keypoints`` list of box-relative ``rel`` placed in xywh ``box``."""
    x, y, w, h = box
    xy = rel * [w, h] + [x, y]
    return np.concatenate([xy, scores[:, None]], 1).reshape(-1).tolist()


def variants(gt: dict, results: List[dict], template: np.ndarray, min_iou: float,
             source: str = 'results') -> Dict[str, List[dict]]:
    """The four result lists of the module docstring, by name (``source``:
    the results file named in errors)."""
    image_ids = {img['id'] for img in gt['images']}
    people: Dict[int, List[dict]] = {}
    for ann in gt['annotations']:
        if ann.get('num_keypoints', 0) and not ann.get('iscrowd'):
            people.setdefault(ann['image_id'], []).append(ann)
    out = {k: [] for k in ('as predicted', 'true pose in its box', 'its pose in the true box',
                           'template in the true box')}
    for i, res in enumerate(results):
        keys = ('image_id', 'score', 'bbox', 'keypoints')
        if not isinstance(res, dict) or any(k not in res for k in keys):
            where = f'(image {res.get("image_id")}) ' if isinstance(res, dict) else ''
            raise ValueError(f'{source}: result {i} {where}needs "image_id", "score", "bbox" '
                             'and "keypoints"')
        if res['image_id'] not in image_ids:
            raise ValueError(f'{source}: result {i} is of image {res["image_id"]}, which the '
                             'ground truth does not have')
        out['as predicted'].append(res)
        cands = people.get(res['image_id'], [])
        match = None
        if cands:
            ious = iou_xywh(np.asarray([res['bbox']], float),
                            np.asarray([a['bbox'] for a in cands], float))[0]
            if ious.max() > min_iou:
                match = cands[int(ious.argmax())]
        if match is None:
            for name in list(out)[1:]:
                out[name].append(res)
            continue
        kpt = np.reshape(res['keypoints'], (-1, 3))
        own = (kpt[:, :2] - res['bbox'][:2]) / np.maximum(res['bbox'][2:], 1e-6)
        for name, rel, box in (('true pose in its box', relative_pose(match), res['bbox']),
                               ('its pose in the true box', own, match['bbox']),
                               ('template in the true box', template, match['bbox'])):
            new = copy.copy(res)
            new['keypoints'] = place(rel, box, kpt[:, 2])
            out[name].append(new)
    return out


def keypoint_ap(gt: dict, results: List[dict]) -> Dict[str, float]:
    """COCO keypoint AP / AP50 / AP75 of ``results`` (0 without results)."""
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval
    if not results:
        return dict(AP=0.0, AP50=0.0, AP75=0.0)
    coco = COCO()
    coco.dataset = copy.deepcopy(gt)
    coco.createIndex()
    dt = coco.loadRes(copy.deepcopy(results))
    ev = COCOeval(coco, dt, 'keypoints', np.asarray(COCO_KEYPOINT_SIGMAS), True)
    ev.params.useSegm = None
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return dict(AP=float(ev.stats[0]), AP50=float(ev.stats[1]), AP75=float(ev.stats[2]))


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, float]]:
    args = parse_args(argv)
    gt = _load(args.gt, 'ground truth')
    results = _load(args.results, 'results')
    if not isinstance(results, list):
        raise ValueError(f'results {args.results}: expected a list of detections')
    for key in ('images', 'annotations'):
        if not isinstance(gt, dict) or key not in gt:
            raise ValueError(f'ground truth {args.gt} has no "{key}"')
    tmpl_anns = gt['annotations']
    if args.template_ann:
        tmpl = _load(args.template_ann, 'template annotations')
        if not isinstance(tmpl, dict) or 'annotations' not in tmpl:
            raise ValueError(f'template annotations {args.template_ann} have no "annotations"')
        tmpl_anns = tmpl['annotations']
    lists = variants(gt, results, template_pose(tmpl_anns), args.min_iou,
                     f'results {args.results}')
    table = {name: keypoint_ap(gt, res) for name, res in lists.items()}
    print(f'{args.results} ({len(results)} detections) on {args.gt}')
    print(f"{'variant':28s} {'kpt AP':>7s} {'AP50':>7s} {'AP75':>7s}")
    for name, row in table.items():
        print(f"{name:28s} {row['AP']:7.3f} {row['AP50']:7.3f} {row['AP75']:7.3f}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(table, f, indent=2)
    return table


if __name__ == '__main__':
    from mmdensekd.utils.cli import run_cli
    args = sys.argv[1:]
    run_cli(main, [a for a in args if a != '--debug'], 'keypoint_ap_breakdown.py',
            debug='--debug' in args)
