# Copyright (c) mmdensekd contributors. All rights reserved.
"""The model-free CSI probe (tools/analysis/probe_csi_information.py)."""
import json

import numpy as np
import pytest


@pytest.fixture(scope='module')
def probe_tool(load_tool):
    return load_tool('analysis/probe_csi_information.py')


def _split(rng, n, noise_dims=40):
    """Boxes and poses at one of four spots (each spot its own pose); the
    'amplitude' encodes the spot, the 'phase' is noise."""
    spots = np.array([[10, 20, 30, 60], [120, 20, 30, 60], [10, 100, 30, 60],
                      [120, 100, 30, 60]], float)
    poses = np.random.default_rng(99).uniform(0, 1, (4, 17, 2))  # the same in every split
    idx = rng.integers(0, 4, n)
    box = spots[idx] + rng.normal(0, 1, (n, 4))
    pose = poses[idx] + rng.normal(0, 0.005, (n, 17, 2))
    return dict(amp=np.eye(4)[idx].repeat(5, 1) + rng.normal(0, 0.1, (n, 20)),
                phase=rng.normal(0, 1, (n, noise_dims)), box=box, pose=pose,
                keypoints=pose * box[:, None, 2:] + box[:, None, :2],
                visible=np.ones((n, 17), bool), area=np.full(n, 0.5 * 30 * 60))


def test_probe_separates_informative_from_noise(probe_tool):
    rng = np.random.default_rng(0)
    rows = probe_tool.probe(_split(rng, 200), _split(rng, 60), k=3, seed=0)
    amp, ph = rows['3-NN on amplitude'], rows['3-NN on phase']
    assert amp['iou50'] > 0.95 and np.all(amp['r2'][:2] > 0.95)
    assert amp['oks50'] > 0.95  # the spot's own pose
    # noise: no better than chance (a quarter of the spots) and R^2 near 0 or below
    assert ph['iou50'] < 0.5 and np.all(ph['r2'][:2] < 0.3) and ph['oks50'] < 0.5
    assert rows['mean training frame (no CSI)']['iou50'] < 0.1
    assert rows['mean training frame (no CSI)']['oks50'] < 0.1
    assert abs(rows['random training frame (no CSI)']['iou50'] - 0.25) < 0.2
    assert abs(rows['random training frame (no CSI)']['oks50'] - 0.25) < 0.2


def test_oks_of_the_true_pose_is_one_and_falls_with_distance(probe_tool):
    val = _split(np.random.default_rng(1), 5)
    np.testing.assert_allclose(probe_tool.oks(val['pose'], val), 1.0)
    # every keypoint 0.1 box widths off: OKS = mean exp(-d^2 / (2 area (2 sigma)^2))
    shifted = val['pose'] + np.array([0.1, 0.0])
    d2 = (0.1 * val['box'][:, 2:3])**2
    sig = probe_tool.COCO_KEYPOINT_SIGMAS[None]
    expect = np.exp(-d2 / (2 * val['area'][:, None] * (2 * sig)**2)).mean(1)
    np.testing.assert_allclose(probe_tool.oks(shifted, val), expect)
    val['visible'][:, 5:] = False  # only the visible ones count
    expect = np.exp(-d2 / (2 * val['area'][:, None] * (2 * sig[:, :5])**2)).mean(1)
    np.testing.assert_allclose(probe_tool.oks(shifted, val), expect)


def test_box_iou_and_r2(probe_tool):
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10]], float)
    np.testing.assert_allclose(probe_tool.box_iou(a, b), [1.0, 50 / 150])
    true = np.array([[0, 0, 2, 2], [4, 4, 2, 4], [8, 0, 4, 2]], float)
    np.testing.assert_allclose(probe_tool.r2(true, true), 1.0)
    mean = np.repeat(true.mean(0, keepdims=True), 3, 0)
    np.testing.assert_allclose(probe_tool.r2(mean, true), 0.0, atol=1e-12)


def test_probe_runs_on_a_generated_world(probe_tool, tmp_path, capsys):
    from mmdensekd.simulation import generate_dataset
    root = tmp_path / 'world'
    generate_dataset(str(root), workers=1, num_train=6, num_val=3, num_test_layout=0,
                     img_size=(128, 96), max_people=1, min_people=1, layouts=2, seed=1,
                     progress=False)
    cfg = ('configs/distill/'
           'kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py')
    rows = probe_tool.main([cfg, '--k', '1', '--cfg-options',
                            f'train_dataloader.dataset.data_root={root}/'])
    out = capsys.readouterr().out
    assert 'one-person frames: train 6 (left out 0), val 3 (left out 0)' in out
    assert set(rows) >= {'1-NN on amplitude', '1-NN on phase', '1-NN on amplitude+phase'}
    assert all(0.0 <= r['iou50'] <= 1.0 and 0.0 <= r['oks50'] <= 1.0 for r in rows.values())
    # the generator's poses, in their own boxes, have OKS 1 with themselves
    train, _ = probe_tool.split_arrays(cfg, 'annotations/densepose_train.json',
                                       {'train_dataloader.dataset.data_root': f'{root}/'})
    assert train['pose'].shape == (6, 17, 2) and train['area'].min() > 0
    np.testing.assert_allclose(probe_tool.oks(train['pose'], train), 1.0)
    # an annotation without an area is named, not divided by
    ann_path = root / 'annotations' / 'densepose_train.json'
    coco = json.loads(ann_path.read_text())
    bad_id = coco['annotations'][2]['id']
    del coco['annotations'][2]['area']
    ann_path.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=f'annotation {bad_id} has no positive "area"'):
        probe_tool.split_arrays(cfg, 'annotations/densepose_train.json',
                                {'train_dataloader.dataset.data_root': f'{root}/'})
