# Copyright (c) mmdensekd contributors. All rights reserved.
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from mmdensekd.evaluation import DensePoseMetric
from mmdensekd.evaluation.functional import load_densepose_results
from mmdensekd.registry import METRICS
from mmdensekd.structures import DensePoseChartResults

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _full_rle():
    rle = mask_utils.encode(np.asfortranarray(np.ones((256, 256), np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def _write_gt(path):
    """Two images, one person each (box 100x150 at (20, 30)), points on
    part 1 at (U, V) = (0.5, 0.5), masks covering the box."""
    gt = dict(images=[dict(id=i, height=300, width=300) for i in (1, 2)],
              categories=[dict(id=1, name='person')], annotations=[])
    for i in (1, 2):
        gt['annotations'].append(
            dict(id=i, image_id=i, category_id=1, iscrowd=0, bbox=[20, 30, 100, 150],
                 area=15000.0, dp_x=[50.0, 120.0, 200.0], dp_y=[60.0, 128.0, 230.0],
                 dp_I=[1, 1, 1], dp_U=[0.5] * 3, dp_V=[0.5] * 3, dp_masks=[_full_rle()] * 14))
    with open(path, 'w') as f:
        json.dump(gt, f)


def _sample(img_id, dx=0.0):
    box = torch.tensor([[20.0 + dx, 30.0, 120.0 + dx, 180.0], [200.0, 200.0, 240.0, 260.0]])
    labels = [torch.ones(150, 100, dtype=torch.uint8), torch.ones(60, 40, dtype=torch.uint8)]
    uv = [torch.full((2, 150, 100), 0.5), torch.full((2, 60, 40), 0.5)]
    pred = dict(bboxes=box, scores=torch.tensor([0.9, 0.3]), labels=torch.tensor([0, 0]),
                densepose=DensePoseChartResults(labels, uv))
    return dict(img_id=img_id, ori_shape=(300, 300), pred_instances=pred)


def _run(metric, samples):
    metric.dataset_meta = dict(classes=('person', ))
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_metric_reports_all_modes_and_writes_results(dp_mesh_dir, tmp_path):
    ann = str(tmp_path / 'gt.json')
    _write_gt(ann)
    out = str(tmp_path / 'res.json')
    metric = METRICS.build(dict(type='DensePoseMetric', ann_file=ann, eval_data_dir=dp_mesh_dir,
                                outfile_path=out))
    assert isinstance(metric, DensePoseMetric)
    stats = _run(metric, [_sample(1), _sample(2)])
    assert len(stats) == 30 and 'densepose/GPSm_AP50' in stats
    # each image: a perfect detection (score 0.9) and a false positive (0.3)
    assert stats['densepose/GPS_AP'] == pytest.approx(1.0)
    assert stats['densepose/IOU_AP'] == pytest.approx(1.0)
    assert stats['densepose/GPSm_ARl'] == pytest.approx(1.0)
    assert stats['densepose/GPS_APm'] == -1  # no medium person

    written = load_densepose_results(out, decode=True)
    assert len(written) == 4
    assert {r['image_id'] for r in written} == {1, 2}
    first = [r for r in written if r['score'] == pytest.approx(0.9)][0]
    assert first['bbox'] == pytest.approx([20, 30, 100, 150]) and first['category_id'] == 1
    assert first['uv_shape'] == [3, 150, 100]
    assert (first['iuv'][0] == 1).all() and (first['iuv'][1:] == 128).all()

    # the offline tool gives the same numbers from the written file
    spec = importlib.util.spec_from_file_location(
        'eval_densepose_results', osp.join(REPO, 'tools/analysis/eval_densepose_results.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    offline = tool.main([out, ann, '--eval-data', dp_mesh_dir])
    for key, value in offline.items():
        assert stats[f'densepose/{key}'] == pytest.approx(value), key


def test_metric_without_geodesic_data_and_shifted_boxes(tmp_path, monkeypatch):
    monkeypatch.delenv('MMDENSEKD_EVAL_DATA', raising=False)
    ann = str(tmp_path / 'gt.json')
    _write_gt(ann)
    metric = DensePoseMetric(ann_file=ann, eval_data_dir=str(tmp_path / 'nowhere'))
    stats = _run(metric, [_sample(1, dx=30.0), _sample(2, dx=30.0)])
    assert set(stats) == {f'densepose/IOU_{s}' for s in
                          ('AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl')}
    # IoU of boxes shifted by 30 of 100 px: 70 / 130
    assert stats['densepose/IOU_AP50'] == pytest.approx(1.0)
    assert stats['densepose/IOU_AP'] == pytest.approx(0.1)  # only 0.5 <= 0.538


def test_metric_config_errors(tmp_path):
    ann = str(tmp_path / 'gt.json')
    _write_gt(ann)
    with pytest.raises(ValueError, match="'OKS'"):
        DensePoseMetric(ann_file=ann, metrics=('GPS', 'OKS'))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        DensePoseMetric(ann_file=str(tmp_path / 'missing.json'))
    metric = DensePoseMetric(ann_file=ann, metrics='IOU')
    with pytest.raises(KeyError, match='image 5'):
        metric.process({}, [dict(img_id=5, pred_instances=dict(bboxes=torch.zeros(0, 4)))])
