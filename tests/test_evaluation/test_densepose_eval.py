# Copyright (c) mmdensekd contributors. All rights reserved.
import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmdensekd.evaluation.functional import STAT_NAMES, DensePoseEvalData, evaluate

FULL = mask_utils.encode(np.asfortranarray(np.ones((256, 256), np.uint8)))
FULL['counts'] = FULL['counts'].decode()
CATS = [dict(id=1, name='person')]


def _person(ann_id, img_id, box, rng, smooth=False):
    """A GT person whose dp_masks cover its box, and the IUV chart that
    predicts it perfectly."""
    x, y, w, h = box
    n = 30
    flat = rng.choice(w * h, n, replace=False)
    px, py = flat % w, flat // w
    chart = np.zeros((3, h, w), np.uint8)
    chart[0] = 1
    if smooth:  # part 1 everywhere, U, V linear in x, y
        parts = np.ones(n, int)
        u, v = px / (w - 1), py / (h - 1)
        chart[1] = np.round(np.arange(w)[None] / (w - 1) * 255)
        chart[2] = np.round(np.arange(h)[:, None] / (h - 1) * 255)
    else:  # random parts, U, V near mesh vertices
        parts = rng.integers(1, 7, n)
        u = np.clip(rng.integers(0, 11, n) / 10 + rng.uniform(-0.03, 0.03, n), 0, 1)
        v = np.clip(rng.integers(0, 11, n) / 10 + rng.uniform(-0.03, 0.03, n), 0, 1)
        chart[:, py, px] = np.stack([parts, np.round(u * 255), np.round(v * 255)])
    ann = dict(id=ann_id, image_id=img_id, category_id=1, bbox=list(box), area=float(w * h),
               iscrowd=0, dp_x=list((px + 0.5) * 255 / w), dp_y=list((py + 0.5) * 255 / h),
               dp_I=[int(p) for p in parts], dp_U=list(u), dp_V=list(v),
               dp_masks=[FULL] + [[]] * 13)
    return ann, chart


def _case(num_imgs=5, smooth=False, seed=0):
    rng = np.random.default_rng(seed)
    gt = dict(images=[], annotations=[], categories=CATS)
    charts = {}
    for i in range(1, num_imgs + 1):
        gt['images'].append(dict(id=i, height=420, width=640))
        boxes = [(20 + i, 30, 200, 300), (400, 50 + i, 60, 80)]  # large, medium
        for j, box in enumerate(boxes):
            ann, chart = _person(10 * i + j, i, box, rng, smooth)
            gt['annotations'].append(ann)
            charts[ann['id']] = chart
    return gt, charts


def _perfect_results(gt, charts, shift=0):
    rng = np.random.default_rng(1)
    return [dict(image_id=a['image_id'], category_id=1, score=float(rng.uniform(0.5, 1)),
                 bbox=[a['bbox'][0] + shift] + a['bbox'][1:], iuv=charts[a['id']])
            for a in gt['annotations']]


@pytest.fixture(scope='module')
def mesh(dp_mesh_dir):
    return DensePoseEvalData.from_dir(dp_mesh_dir)


def test_perfect_predictions_score_one_everywhere(mesh):
    gt, charts = _case()
    stats = evaluate(gt, _perfect_results(gt, charts), eval_data=mesh, show_progress=False)
    assert set(stats) == {f'{m}_{s}' for m in ('GPS', 'GPSm', 'IOU') for s in STAT_NAMES}
    for key, value in stats.items():
        assert value == pytest.approx(1.0), key


def test_shifted_predictions_lose_ap_monotonically(mesh):
    gt, charts = _case(smooth=True)
    curves = {m: [] for m in ('GPS', 'GPSm', 'IOU')}
    for shift in (0, 3, 6, 12, 24, 48):
        stats = evaluate(gt, _perfect_results(gt, charts, shift), eval_data=mesh,
                         show_progress=False)
        for m in curves:
            curves[m].append(stats[f'{m}_AP'])
    for m, ap in curves.items():
        assert ap[0] == pytest.approx(1.0), m
        assert all(b <= a + 1e-12 for a, b in zip(ap, ap[1:])), (m, ap)
        assert ap[-1] < 0.5 * ap[0], (m, ap)
        assert len(set(np.round(ap, 6))) >= 4, (m, ap)  # falls gradually


def _paste(mask, x, y, h, w):
    full = np.zeros((h, w), np.uint8)
    full[y:y + mask.shape[0], x:x + mask.shape[1]] = mask[:h - y, :w - x]
    rle = mask_utils.encode(np.asfortranarray(full))
    rle['counts'] = rle['counts'].decode()
    return rle


def test_iou_mode_equals_pycocotools_segm():
    rng = np.random.default_rng(3)
    H, W = 480, 700
    gt = dict(images=[], annotations=[], categories=CATS)
    coco_gt = dict(images=[], annotations=[], categories=CATS)
    results, coco_dt = [], []
    for i in range(1, 7):
        gt['images'].append(dict(id=i, height=H, width=W))
        coco_gt['images'].append(dict(id=i, height=H, width=W))
        for j in range(2):
            x, y = int(rng.integers(0, 300)), int(rng.integers(0, 200))
            m = np.zeros((256, 256), np.uint8)
            m[rng.integers(0, 60):rng.integers(150, 256), rng.integers(0, 60):256] = 1
            rle = mask_utils.encode(np.asfortranarray(m))
            rle['counts'] = rle['counts'].decode()
            ann = dict(id=100 * i + j, image_id=i, category_id=1, bbox=[x, y, 256, 256],
                       area=float(256 * 256), iscrowd=0, dp_x=[1.0], dp_y=[1.0], dp_I=[1],
                       dp_U=[0.5], dp_V=[0.5], dp_masks=[rle] + [[]] * 13)
            gt['annotations'].append(ann)
            coco_gt['annotations'].append(
                dict(id=ann['id'], image_id=i, category_id=1, bbox=ann['bbox'], area=ann['area'],
                     iscrowd=0, segmentation=_paste(m, x, y, H, W)))
            for _ in range(2):  # a good and a noisy detection per person
                dx, dy = (int(c) for c in rng.integers(-15, 16, 2))
                bw, bh = (int(c) for c in rng.integers(220, 290, 2))
                bx, by = max(x + dx, 0), max(y + dy, 0)
                labels = np.zeros((bh, bw), np.uint8)
                labels[int(rng.integers(0, 25)):, int(rng.integers(0, 25)):] = 3
                iuv = np.stack([labels, labels * 0, labels * 0])
                score = float(rng.uniform())
                results.append(dict(image_id=i, category_id=1, bbox=[bx, by, bw, bh],
                                    score=score, iuv=iuv))
                coco_dt.append(dict(image_id=i, category_id=1, score=score,
                                    segmentation=_paste(labels > 0, bx, by, H, W)))
    ours = evaluate(gt, results, modes=('IOU',), show_progress=False)

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(coco_gt)
        cg.createIndex()
        cd = cg.loadRes(coco_dt)
        ev = COCOeval(cg, cd, 'segm')
        ev.params.maxDets = [20]
        ev.params.areaRng = [[0, 1e10], [32**2, 96**2], [96**2, 1e10]]
        ev.params.areaRngLbl = ['all', 'medium', 'large']
        ev.evaluate()
        ev.accumulate()
    prec, rec = ev.eval['precision'][..., 0], ev.eval['recall'][..., 0]

    def mean(a):
        return float(np.mean(a[a > -1])) if (a > -1).any() else -1.0

    ref = dict(AP=mean(prec[..., 0]), AP50=mean(prec[0, ..., 0]), AP75=mean(prec[5, ..., 0]),
               APm=mean(prec[..., 1]), APl=mean(prec[..., 2]), AR=mean(rec[..., 0]),
               AR50=mean(rec[0, ..., 0]), AR75=mean(rec[5, ..., 0]), ARm=mean(rec[..., 1]),
               ARl=mean(rec[..., 2]))
    assert 0.1 < ref['AP'] < 0.9  # a non-trivial case
    for name, value in ref.items():
        assert ours[f'IOU_{name}'] == pytest.approx(value, abs=1e-12), name


def test_without_geodesic_data_only_iou_is_reported():
    gt, charts = _case(num_imgs=2)
    stats = evaluate(gt, _perfect_results(gt, charts), show_progress=False)
    assert set(stats) == {f'IOU_{s}' for s in STAT_NAMES}
    assert stats['IOU_AP'] == pytest.approx(1.0)


def test_ignore_rules(mesh):
    gt, charts = _case(num_imgs=2)
    results = _perfect_results(gt, charts)
    extra = np.ones((3, 100, 100), np.uint8)
    fp = dict(image_id=1, category_id=1, bbox=[250.0, 300.0, 100.0, 100.0], score=0.99, iuv=extra)
    base = evaluate(gt, results + [fp], modes=('IOU',), show_progress=False)['IOU_AP']
    assert base < 0.95  # a confident false positive costs AP

    # an annotation without DensePose points there is ignored: no false positive
    gt_ig = copy.deepcopy(gt)
    gt_ig['annotations'].append(dict(id=999, image_id=1, category_id=1, iscrowd=0,
                                     bbox=[250, 300, 100, 100], area=1e4,
                                     dp_masks=[FULL] + [[]] * 13))
    assert evaluate(gt_ig, results + [fp], modes=('IOU',),
                    show_progress=False)['IOU_AP'] == pytest.approx(1.0)

    # an ignore region covering it drops the detection
    gt_rg = copy.deepcopy(gt)
    gt_rg['images'][0]['ignore_regions_x'] = [[240, 360, 360, 240]]
    gt_rg['images'][0]['ignore_regions_y'] = [[290, 290, 410, 410]]
    assert evaluate(gt_rg, results + [fp], modes=('IOU',),
                    show_progress=False)['IOU_AP'] == pytest.approx(1.0)

    # detections on images without ground truth are ignored; unknown images skipped
    gt_img = copy.deepcopy(gt)
    gt_img['images'].append(dict(id=77, height=400, width=400))
    stray = dict(fp, image_id=77)
    stats = evaluate(gt_img, results + [stray, dict(fp, image_id=12345)], eval_data=mesh,
                     show_progress=False)
    assert stats['GPS_AP'] == pytest.approx(1.0) and stats['IOU_AP'] == pytest.approx(1.0)


def test_bad_mode_is_rejected():
    with pytest.raises(ValueError, match="'OKS'"):
        evaluate(dict(images=[], annotations=[], categories=CATS), [], modes=('OKS',))
