# Copyright (c) mmdensekd contributors. All rights reserved.
"""generate_pseudo_labels.py: predictions -> DensePose-COCO annotations (one
or several teachers), and the on-the-fly pseudo-label conversion of the
distiller."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmdensekd.models.distillers.pseudo_labels import predictions_to_gt_instances
from mmdensekd.structures import DensePoseChartResults


def _pred():
    labels = torch.zeros(20, 10, dtype=torch.uint8)
    labels[5:15, 2:8] = 3  # a block of fine part 3 in a 10 wide x 20 high chart
    uv = torch.full((2, 20, 10), 0.5)
    empty = torch.zeros(4, 4, dtype=torch.uint8)
    return InstanceData(
        bboxes=torch.tensor([[10., 20., 20., 40.], [0., 0., 4., 4.], [1., 1., 3., 3.]]),
        scores=torch.tensor([0.9, 0.8, 0.1]),
        labels=torch.zeros(3, dtype=torch.long),
        keypoints=torch.arange(3 * 17 * 2, dtype=torch.float).view(3, 17, 2),
        keypoint_scores=torch.linspace(-1, 1, 17).repeat(3, 1),
        densepose=DensePoseChartResults([labels, empty, empty],
                                        [uv, torch.zeros(2, 4, 4), torch.zeros(2, 4, 4)]))


def test_predictions_to_annotations(load_tool):
    tool = load_tool('misc/generate_pseudo_labels.py')
    anns = tool.predictions_to_annotations(_pred(), image_id=7, start_id=5, score_thr=0.5,
                                           kpt_thr=0.0, num_points=30,
                                           rng=np.random.default_rng(0))
    assert [a['id'] for a in anns] == [5, 6] and all(a['image_id'] == 7 for a in anns)
    first, second = anns
    assert first['bbox'] == [10.0, 20.0, 10.0, 20.0] and abs(first['score'] - 0.9) < 1e-6
    kp = np.asarray(first['keypoints']).reshape(17, 3)
    assert first['num_keypoints'] == 8  # scores > 0: the last 8 of linspace(-1, 1, 17)
    assert kp[-1].tolist() == [32.0, 33.0, 2.0] and kp[0].tolist() == [0.0, 0.0, 0.0]
    # dp points lie where the chart has part 3: x in [2, 8) * 256 / 10, y in [5, 15) * 256 / 20
    x, y = np.asarray(first['dp_x']), np.asarray(first['dp_y'])
    assert set(first['dp_I']) == {3.0} and 25 <= len(x) <= 35
    assert x.min() >= 2 * 25.6 - 1 and x.max() <= 8 * 25.6 + 1
    assert y.min() >= 5 * 12.8 - 1 and y.max() <= 15 * 12.8 + 1
    assert np.allclose(first['dp_U'], 0.5, atol=1 / 255) and len(first['dp_masks']) == 14
    # an all-background chart keeps the person without DensePose fields
    assert 'dp_x' not in second and second['num_keypoints'] == 8


def test_on_the_fly_pseudo_labels():
    gt = predictions_to_gt_instances(_pred(), score_thr=0.5, kpt_score_thr=0.0, num_points=40)
    assert gt.bboxes.tolist() == [[10., 20., 20., 40.], [0., 0., 4., 4.]]
    assert gt.keypoints_visible[0].sum().item() == 8
    dp = gt.densepose
    assert dp.has_dp.tolist() == [True, False]
    pts = dp.points[0]
    assert pts.shape == (40, 5) and set(pts[:, 2].tolist()) == {3.0}
    assert pts[:, 0].min() >= 2 * 25.6 - 1 and pts[:, 1].max() <= 15 * 12.8 + 1
    # fine part 3 (a hand) is coarse part 2 in the merged segmentation
    assert set(dp.segms[0].unique().tolist()) == {0, 2}


def test_two_teachers_merged_by_box_matching(load_tool, tmp_path, monkeypatch, capsys):
    """A DensePose teacher and a keypoint teacher (stand-ins for a DensePose
    R-CNN and a Keypoint R-CNN): the json's persons carry both keypoints
    (num_keypoints > 0) and DensePose fields, matched per person."""
    import json

    import cv2
    from mmdet.structures import DetDataSample
    tool = load_tool('misc/generate_pseudo_labels.py')
    img_dir = tmp_path / 'frames'
    img_dir.mkdir()
    for name in ('a.png', 'b.png'):
        cv2.imwrite(str(img_dir / name), np.zeros((48, 64, 3), np.uint8))
    files = {}
    for name in ('dp.py', 'dp.pth', 'kpt.py', 'kpt.pth'):
        files[name] = tmp_path / name
        files[name].write_text('')
    dp_pred = _pred()[[0, 1]]  # two persons with charts (the second all background)
    kpt_pred = InstanceData(
        bboxes=torch.tensor([[0., 0., 4., 4.], [10., 21., 20., 40.]]),  # reversed order
        scores=torch.tensor([0.9, 0.95]), labels=torch.zeros(2, dtype=torch.long),
        keypoints=torch.stack([torch.full((17, 2), 2.), torch.full((17, 2), 15.)]),
        keypoint_scores=torch.ones(2, 17))
    del dp_pred.keypoints, dp_pred.keypoint_scores
    preds = {str(files['dp.py']): dp_pred, str(files['kpt.py']): kpt_pred}

    def fake_inference(model, path):
        sample = DetDataSample(metainfo=dict(ori_shape=(48, 64)))
        sample.pred_instances = preds[model]
        return sample

    monkeypatch.setattr(tool, 'init_model', lambda cfg, ckpt, device, cfg_options=None: cfg)
    monkeypatch.setattr(tool, 'inference_model', fake_inference)
    out = tmp_path / 'pseudo.json'
    tool.main([str(files['dp.py']), str(files['dp.pth']), '--teacher', str(files['kpt.py']),
               str(files['kpt.pth']), '--img-dir', str(img_dir), '--out', str(out),
               '--score-thr', '0.5', '--num-points', '20'])
    anns = json.loads(out.read_text())['annotations']
    assert len(anns) == 4  # 2 persons x 2 frames
    first, second = anns[:2]
    assert first['bbox'] == [10.0, 20.0, 10.0, 20.0]
    assert first['num_keypoints'] == 17 and 'dp_x' in first
    assert np.asarray(first['keypoints']).reshape(17, 3)[0].tolist() == [15.0, 15.0, 2.0]
    assert second['num_keypoints'] == 17 and 'dp_x' not in second
    assert np.asarray(second['keypoints']).reshape(17, 3)[0].tolist() == [2.0, 2.0, 2.0]
    assert '4 with keypoints' in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tool.main([str(files['dp.py']), str(files['dp.pth']), '--teacher', str(files['kpt.py']),
                   str(tmp_path / 'missing.pth'), '--img-dir', str(img_dir), '--out', str(out)])


def test_confidences_written_per_point(load_tool):
    """A teacher with U/V confidences: ``dp_sigma_2`` holds the variance of
    the chart pixel each point was sampled from (left columns 0.1, right
    columns 0.4 of the part-3 block)."""
    tool = load_tool('misc/generate_pseudo_labels.py')
    pred = _pred()
    sigma = torch.zeros(20, 10)
    sigma[:, :5], sigma[:, 5:] = 0.1, 0.4
    dp = pred.densepose
    pred.densepose = DensePoseChartResults(dp.labels, dp.uv,
                                           {'sigma_2': [sigma, None, None]})
    anns = tool.predictions_to_annotations(pred, image_id=7, start_id=5, score_thr=0.5,
                                           kpt_thr=0.0, num_points=30,
                                           rng=np.random.default_rng(0))
    first = anns[0]
    x, var = np.asarray(first['dp_x']), np.asarray(first['dp_sigma_2'])
    assert len(var) == len(x) and set(np.round(var, 4)) == {0.1, 0.4}
    # chart column = floor(x * 10 / 256): columns < 5 have variance 0.1
    np.testing.assert_allclose(var, np.where(np.floor(x * 10 / 256) < 5, 0.1, 0.4), atol=1e-6)
    assert not any(k.startswith('dp_sigma') for k in anns[1])
