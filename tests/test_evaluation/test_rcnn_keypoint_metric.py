# Copyright (c) mmdensekd contributors. All rights reserved.
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmdensekd.evaluation.metrics.rcnn_keypoint_metric import (
    COCO_KEYPOINT_SIGMAS,
    CocoKeypointMetric,
)
from mmdensekd.registry import METRICS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ANN_FILE = osp.join(REPO, 'tests/data/coco_tiny/test_coco.json')
NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5', 'AR .75', 'AR (M)',
         'AR (L)')


def _predictions(noise=0.0, seed=0, false_positives=True):
    """Per-image predictions built from the real GT, perturbed by ``noise``
    (fraction of sqrt(area)), plus some false positives."""
    rng = np.random.default_rng(seed)
    with open(ANN_FILE) as f:
        coco = json.load(f)
    per_img = {img['id']: [] for img in coco['images']}
    for ann in coco['annotations']:
        if ann['num_keypoints'] == 0:
            continue
        kpts = np.asarray(ann['keypoints'], dtype=np.float64).reshape(17, 3)[:, :2]
        scale = np.sqrt(ann['area'])
        kpts = kpts + rng.normal(0, noise * scale, kpts.shape)
        x, y, w, h = ann['bbox']
        box = np.array([x, y, x + w, y + h]) + rng.normal(0, noise * scale, 4)
        per_img[ann['image_id']].append((box, kpts))
    samples = []
    for img_id, insts in per_img.items():
        if false_positives:
            box = np.array([10., 10., 110., 210.]) + rng.uniform(0, 50, 4)
            insts = insts + [(box, rng.uniform(10, 200, (17, 2)))]
        n = len(insts)
        samples.append(dict(
            img_id=img_id,
            pred_instances=dict(
                bboxes=np.stack([b for b, _ in insts]),
                scores=rng.uniform(0.05, 1.0, n),
                keypoints=np.stack([k for _, k in insts]),
                keypoint_scores=rng.uniform(0, 1, (n, 17)),
                labels=np.zeros(n, dtype=np.int64))))
    return samples


def _evaluate(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def test_perfect_predictions_score_one():
    metric = METRICS.build(dict(type='CocoKeypointMetric', ann_file=ANN_FILE))
    res = _evaluate(metric, _predictions(noise=0.0, false_positives=False))
    assert res['coco-keypoint/AP'] == pytest.approx(1.0)
    assert res['coco-keypoint/AR'] == pytest.approx(1.0)
    assert set(res) == {f'coco-keypoint/{n}' for n in NAMES}


def test_same_numbers_as_mmpose_coco_metric():
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.metrics import CocoMetric

    samples = _predictions(noise=0.06, seed=1)
    ours = _evaluate(CocoKeypointMetric(ann_file=ANN_FILE), samples)
    assert 0.05 < ours['coco-keypoint/AP'] < 0.95  # a non-trivial operating point

    ref = CocoMetric(ann_file=ANN_FILE, score_mode='bbox', nms_mode='none')
    meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    np.testing.assert_allclose(meta['sigmas'], COCO_KEYPOINT_SIGMAS, rtol=1e-6)
    ref.dataset_meta = meta
    ref_samples = []
    for s in samples:
        p = s['pred_instances']
        ref_samples.append(dict(
            id=list(range(len(p['bboxes']))), img_id=s['img_id'], category_id=1,
            gt_instances=dict(),
            pred_instances=dict(keypoints=p['keypoints'], keypoint_scores=p['keypoint_scores'],
                                bboxes=p['bboxes'], bbox_scores=p['scores'])))
    theirs = _evaluate(ref, ref_samples)
    for name in NAMES:
        assert ours[f'coco-keypoint/{name}'] == pytest.approx(theirs[f'coco/{name}'], abs=1e-12)


def test_noise_lowers_ap_and_tensor_inputs():
    clean = _evaluate(CocoKeypointMetric(ann_file=ANN_FILE), _predictions(0.02, seed=2))
    noisy = _evaluate(CocoKeypointMetric(ann_file=ANN_FILE), _predictions(0.15, seed=2))
    assert clean['coco-keypoint/AP'] > noisy['coco-keypoint/AP'] + 0.2
    # torch tensors (as the detector returns) give the same numbers
    samples = _predictions(0.02, seed=2)
    for s in samples:
        s['pred_instances'] = {k: torch.as_tensor(v) for k, v in s['pred_instances'].items()}
    as_tensor = _evaluate(CocoKeypointMetric(ann_file=ANN_FILE), samples)
    assert as_tensor == pytest.approx(clean)


def test_label_filter_score_modes_and_empty():
    samples = _predictions(0.0, false_positives=False)
    for s in samples:  # mark every prediction as another class
        s['pred_instances']['labels'] = np.ones(len(s['pred_instances']['bboxes']), np.int64)
    res = _evaluate(CocoKeypointMetric(ann_file=ANN_FILE), samples)
    assert all(v == 0.0 for v in res.values())
    res = _evaluate(CocoKeypointMetric(ann_file=ANN_FILE, person_label=None), samples)
    assert res['coco-keypoint/AP'] == pytest.approx(1.0)
    metric = CocoKeypointMetric(ann_file=ANN_FILE, score_mode='bbox_keypoint',
                                keypoint_score_thr=0.5)
    kpt_scores = np.array([0.2, 0.6, 1.0])
    assert metric._instance_score(0.8, kpt_scores) == pytest.approx(0.8 * 0.8)
    metric.score_mode = 'keypoint'
    assert metric._instance_score(0.8, kpt_scores) == pytest.approx(0.6)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match='score_mode'):
        CocoKeypointMetric(ann_file=ANN_FILE, score_mode='oks')
    with pytest.raises(FileNotFoundError, match='missing.json'):
        CocoKeypointMetric(ann_file=str(tmp_path / 'missing.json'))
    metric = CocoKeypointMetric(ann_file=ANN_FILE)
    bad = _predictions(false_positives=False)[:1]
    del bad[0]['pred_instances']['keypoint_scores']
    with pytest.raises(ValueError, match=r"image 785.*keypoint_scores"):
        metric.process({}, bad)
    wrong_id = _predictions(false_positives=False)[:1]
    wrong_id[0]['img_id'] = 123
    metric.process({}, wrong_id)
    with pytest.raises(ValueError, match='123'):
        metric.evaluate(size=1)
