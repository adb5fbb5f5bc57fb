# Copyright (c) mmdensekd contributors. All rights reserved.
"""Run one joint teacher, or several teachers, over frames and write their
predictions as a DensePose-COCO json: the "pseudo ground truth" of DensePose
From WiFi (which came from a DensePose R-CNN plus a Keypoint R-CNN).

    python tools/misc/generate_pseudo_labels.py CONFIG CKPT --img-dir DIR \
        --out OUT.json [--teacher CONFIG2 CKPT2 ...] [--ann-file IMAGES.json] \
        [--score-thr 0.7] [--kpt-thr 0.0] [--num-points 100] \
        [--match-iou-thr 0.5] [--keep-unmatched] [--device cpu]

Several teachers (``CONFIG CKPT`` first, then each ``--teacher``): their
confident detections (``--score-thr``) are merged per person by greedy box
matching (IoU >= ``--match-iou-thr``,
:func:`mmdensekd.models.distillers.merge_teacher_predictions`): the first
teacher's persons get the keypoints and/or DensePose of the later teachers'
matched detections, so a DensePose R-CNN + a Keypoint R-CNN give persons with
both. ``--keep-unmatched`` also keeps later teachers' unmatched detections.

Frames: the ``images`` of ``--ann-file`` (``file_name`` relative to
``--img-dir``; every other field, e.g. ``csi_file``, is kept), or every
``.jpg/.jpeg/.png/.bmp`` under ``--img-dir`` (recursively, sorted; ids
1..N, ``file_name`` relative to ``--img-dir``, so an MM-Fi tree keeps its
``E01/S01/A01/rgb/frame001.png`` names).

Per merged person: ``bbox`` (xywh), ``score``,
``keypoints`` (COCO flat ``[x, y, v] * 17``, v = 2 where the keypoint score
exceeds ``--kpt-thr``, zeros when the teacher has no keypoint branch) and
the DensePose fields sampled from the predicted IUV chart by
:func:`mmdensekd.datasets.iuv_to_dp_fields` (``dp_x/dp_y/dp_I/dp_U/dp_V``,
``dp_masks``); a person whose chart has no body-part pixel keeps its box and
keypoints without DensePose fields (counted in the summary line). With a
teacher that estimates confidences (detectron2's WC1 / WC2 / M models) each
confidence map is also read at every point: ``dp_sigma_2`` (the U/V variance
``softplus(raw) + epsilon``), ``dp_kappa_u`` / ``dp_kappa_v``,
``dp_fine_segm_confidence`` / ``dp_coarse_segm_confidence``, one value per
point (:func:`point_confidences`).
"""
import argparse
import json
import logging
import os
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.utils import track_iter_progress

from mmdensekd.apis import inference_model, init_model
from mmdensekd.datasets.coco_keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON
from mmdensekd.datasets.iuv_conversion import chart_box_xywh, iuv_to_dp_fields
from mmdensekd.models.distillers.pseudo_labels import merge_teacher_predictions

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write teacher predictions as DensePose-COCO')
    parser.add_argument('config', help='(first) teacher config file')
    parser.add_argument('checkpoint', help='(first) teacher checkpoint (local file)')
    parser.add_argument('--teacher', nargs=2, action='append', default=[],
                        metavar=('CONFIG', 'CKPT'),
                        help='a further teacher (repeatable), e.g. a Keypoint R-CNN')
    parser.add_argument('--match-iou-thr', type=float, default=0.5,
                        help='minimum IoU matching a later teacher\'s detection to a person')
    parser.add_argument('--keep-unmatched', action='store_true',
                        help="keep later teachers' detections that match no person")
    parser.add_argument('--img-dir', required=True, help='root of the frames')
    parser.add_argument('--ann-file', help='COCO json whose images list the frames')
    parser.add_argument('--out', required=True, help='output DensePose-COCO json')
    parser.add_argument('--score-thr', type=float, default=0.7, help='minimum box score')
    parser.add_argument('--kpt-thr', type=float, default=0.0,
                        help='keypoint score above which a keypoint is visible')
    parser.add_argument('--num-points', type=int, default=100,
                        help='approximate DensePose points per person')
    parser.add_argument('--seed', type=int, default=0, help='point sampling seed')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='overrides of every teacher config, e.g. '
                        'model.test_cfg.rcnn.score_thr=0.3')
    return parser.parse_args(argv)


def list_images(img_dir: str, ann_file: Optional[str]) -> dict:
    """The COCO ``images`` / ``categories`` skeleton of the output json."""
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'--img-dir {img_dir} is not a directory')
    if ann_file is not None:
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'--ann-file {ann_file} does not exist')
        with open(ann_file) as f:
            src = json.load(f)
        if not src.get('images'):
            raise ValueError(f'--ann-file {ann_file} has no images')
        return dict(images=src['images'], categories=src.get('categories') or [])
    names = []
    for root, _, files in os.walk(img_dir):
        for name in files:
            if name.lower().endswith(IMG_EXTS):
                names.append(osp.relpath(osp.join(root, name), img_dir).replace(os.sep, '/'))
    if not names:
        raise FileNotFoundError(f'no images ({IMG_EXTS}) under --img-dir {img_dir}')
    return dict(images=[dict(id=i + 1, file_name=n) for i, n in enumerate(sorted(names))],
                categories=[])


def point_confidences(densepose, index: int, fields: dict, box: List[float],
                      chart_box: List[float]) -> dict:
    """The confidence maps of chart ``index`` read at the sampled points.

    Args:
        densepose (DensePoseChartResults): The image's charts.
        index (int): The instance.
        fields (dict): ``dp_x`` / ``dp_y`` in the 256 x 256 frame of ``box``.
        box (list[float]): xywh box of the annotation.
        chart_box (list[float]): xywh region the chart covers.

    Returns:
        dict: ``dp_<name>`` -> list of floats (one per point), for each
        confidence the chart has (empty without confidences).
    """
    out = {}
    x = np.asarray(fields['dp_x'], np.float64)
    y = np.asarray(fields['dp_y'], np.float64)
    col = np.floor(box[0] + x * box[2] / 256.0 - chart_box[0]).astype(np.int64)
    row = np.floor(box[1] + y * box[3] / 256.0 - chart_box[1]).astype(np.int64)
    for name in sorted(getattr(densepose, 'confidences', {})):
        maps = densepose.confidence(name, index)
        if maps is None:
            continue
        values = maps.detach().cpu().numpy()
        r = np.clip(row, 0, values.shape[0] - 1)
        c = np.clip(col, 0, values.shape[1] - 1)
        out[f'dp_{name}'] = [round(float(v), 5) for v in values[r, c]]
    return out


def predictions_to_annotations(pred, image_id: int, start_id: int, score_thr: float,
                               kpt_thr: float, num_points: int,
                               rng: np.random.Generator) -> List[dict]:
    """DensePose-COCO annotations of one image's confident predictions.

    Args:
        pred (InstanceData): ``pred_instances`` in the original image frame.
        image_id (int): COCO image id.
        start_id (int): Id of the first annotation.
        score_thr (float): Minimum box score.
        kpt_thr (float): Keypoint visibility threshold.
        num_points (int): Approximate DensePose points per person.
        rng (np.random.Generator): Point sampling generator.

    Returns:
        list[dict]: COCO annotations (``bbox``, ``score``, ``area``,
        ``keypoints``, ``num_keypoints``, dp fields).
    """
    anns = []
    scores = pred.scores.cpu().numpy()
    bboxes = pred.bboxes.cpu().numpy()
    has_kpt = 'keypoints' in pred
    has_dp = 'densepose' in pred
    for i in np.nonzero(scores >= score_thr)[0]:
        x0, y0, x1, y1 = (float(v) for v in bboxes[i])
        box = [x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)]
        ann = dict(id=start_id + len(anns), image_id=image_id, category_id=1, bbox=box,
                   score=float(scores[i]), area=box[2] * box[3], iscrowd=0)
        if has_kpt:
            kpts = pred.keypoints[i].cpu().numpy()
            vis = pred.keypoint_scores[i].cpu().numpy() > kpt_thr
            flat = np.zeros((len(kpts), 3))
            flat[:, :2] = kpts
            flat[:, 2] = np.where(vis, 2, 0)
            flat[~vis, :2] = 0
            ann['keypoints'] = [round(float(v), 2) for v in flat.reshape(-1)]
            ann['num_keypoints'] = int(vis.sum())
        else:
            ann['keypoints'] = [0] * (3 * len(COCO_KEYPOINT_NAMES))
            ann['num_keypoints'] = 0
        if has_dp:
            iuv = pred.densepose.iuv(int(i))
            chart_box = chart_box_xywh([x0, y0], iuv)
            fields = iuv_to_dp_fields(iuv, chart_box, box, num_points, rng=rng)
            if fields is not None:  # None: no body-part pixel; the person keeps box/keypoints
                ann.update(fields)
                ann.update(point_confidences(pred.densepose, int(i), fields, box, chart_box))
        anns.append(ann)
    return anns


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = list_images(args.img_dir, args.ann_file)
    if not out['categories']:
        out['categories'] = [dict(id=1, name='person', supercategory='person',
                                  keypoints=list(COCO_KEYPOINT_NAMES),
                                  # COCO categories number keypoints from 1
                                  skeleton=[[a + 1, b + 1] for a, b in COCO_SKELETON])]
    teachers = [(args.config, args.checkpoint)] + [tuple(t) for t in args.teacher]
    for cfg_path, ckpt in teachers:
        for kind, path in (('config', cfg_path), ('checkpoint', ckpt)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'teacher {kind} not found: {path}')
    models = [init_model(c, k, device=args.device, cfg_options=args.cfg_options)
              for c, k in teachers]
    rng = np.random.default_rng(args.seed)
    annotations: List[dict] = []
    empty = []
    for img in track_iter_progress(out['images']):
        path = osp.join(args.img_dir, img['file_name'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'image id {img["id"]}: {path} does not exist')
        samples = [inference_model(model, path) for model in models]
        if 'height' not in img:
            img['height'], img['width'] = (int(v) for v in samples[0].ori_shape[:2])
        merged = merge_teacher_predictions([s.pred_instances for s in samples],
                                           score_thrs=[args.score_thr] * len(samples),
                                           iou_thr=args.match_iou_thr,
                                           keep_unmatched=args.keep_unmatched)
        anns = predictions_to_annotations(merged, img['id'], len(annotations) + 1,
                                          args.score_thr, args.kpt_thr, args.num_points, rng)
        if not anns:
            empty.append(img['id'])
        annotations.extend(anns)
    out['annotations'] = annotations
    names = ' + '.join(osp.basename(k) for _, k in teachers)
    out['info'] = dict(description=f'pseudo labels of {names} (score >= {args.score_thr})')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(out, f)
    if empty:
        print_log(f'{len(empty)} of {len(out["images"])} frames have no detection with score '
                  f'>= {args.score_thr} (image ids {empty[:20]}{"..." if len(empty) > 20 else ""})',
                  logger='current', level=logging.WARNING)
    num_dp = sum('dp_x' in a for a in annotations)
    num_kpt = sum(a['num_keypoints'] > 0 for a in annotations)
    print(f'wrote {len(annotations)} pseudo-labelled persons ({num_dp} with DensePose, '
          f'{num_kpt} with keypoints) from {len(teachers)} teacher(s) on '
          f'{len(out["images"])} frames to {args.out}')
    return out


if __name__ == '__main__':
    main()
