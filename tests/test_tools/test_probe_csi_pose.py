# Copyright (c) mmdensekd contributors. All rights reserved.
"""The learned CSI information probe (tools/analysis/probe_csi_pose.py)."""
import json
import os.path as osp

import numpy as np
import pytest

from mmdensekd.simulation import generate_dataset


@pytest.fixture(scope='module')
def probe_tool(load_tool):
    return load_tool('analysis/probe_csi_pose.py')


def _split(rng, n, informative=True, grid=4):
    """Four poses (each with its own part map); the input encodes which one
    (spread over 30 noisy dims) or is pure noise."""
    poses = np.random.default_rng(99).uniform(0.1, 0.9, (4, 17, 2))
    poses[:, 5], poses[:, 12] = (0.3, 0.2), (0.6, 0.6)  # a torso of about 50 px
    parts = np.random.default_rng(98).integers(0, 15, (4, grid, grid))
    idx = rng.integers(0, 4, n)
    box = np.array([40.0, 30.0, 60.0, 120.0]) + rng.normal(0, 1, (n, 4))
    pose = poses[idx] + rng.normal(0, 0.004, (n, 17, 2))
    code = np.eye(4)[idx].repeat(8, 1)[:, :30]
    x = (code if informative else rng.normal(0, 1, code.shape)) + rng.normal(0, 0.2, (n, 30))
    return dict(x=x, box=box, pose=pose, keypoints=pose * box[:, None, 2:] + box[:, None, :2],
                visible=np.ones((n, 17), bool), area=np.full(n, 0.5 * 60 * 120),
                parts=np.eye(15)[parts[idx]])


@pytest.mark.parametrize('model', ['ridge', 'mlp'])
def test_learned_probe_separates_informative_input_from_noise(probe_tool, model):
    rng = np.random.default_rng(0)
    rows = probe_tool.probe(_split(rng, 240), _split(rng, 80), models=[model], seed=0)
    good, shuffled = rows[f'{model} on CSI'], rows[f'{model} on shuffled CSI']
    mean = rows['mean training pose (no CSI)']
    assert good['oks50'] > 0.95 and good['pck02'] > 0.9 and good['part_iou'] > 0.9
    # the shuffled control learns nothing: about as good as the mean pose
    assert shuffled['oks50'] < 0.5 and shuffled['part_iou'] < 0.4
    assert mean['oks50'] < 0.5 and mean['part_iou'] < 0.4
    # noise as input: nothing to learn
    rng = np.random.default_rng(1)
    noise = probe_tool.probe(_split(rng, 240, False), _split(rng, 80, False), models=[model])
    assert noise[f'{model} on CSI']['oks50'] < 0.5
    assert noise[f'{model} on CSI']['part_iou'] < 0.4


def test_pck_uses_the_torso_diameter(probe_tool):
    kp = np.zeros((1, 17, 2))
    kp[0, 5], kp[0, 12] = (0, 0), (30, 40)  # torso 50 px
    data = dict(box=np.array([[0.0, 0.0, 100.0, 100.0]]), keypoints=kp,
                visible=np.ones((1, 17), bool))
    pose = kp / 100.0
    pose[0, :8, 0] += 0.09  # 9 px off: within 0.2 * 50
    pose[0, 8:, 0] += 0.11  # 11 px off: outside
    assert probe_tool.pck(pose, data) == pytest.approx(8 / 17)


def test_probe_reads_a_generated_world_and_keeps_the_last_windows(probe_tool, tmp_path):
    common = dict(num_train=8, num_val=4, num_test_layout=0, img_size=(96, 72), max_people=1,
                  layouts=2, seed=3, workers=1, progress=False, sequence_frames=4)
    four = str(tmp_path / 'four')
    one = str(tmp_path / 'one')
    generate_dataset(four, sensing='person-in-wifi-4w', **common)
    generate_dataset(one, sensing='person-in-wifi', **common)
    metas = []
    for d in (four, one):
        with open(osp.join(d, 'meta.json')) as f:
            metas.append(json.load(f))
    last, single = (probe_tool.featurizer(metas[0], 1), probe_tool.featurizer(metas[1]))
    a, _ = probe_tool.load_split(four, 'train', 8, last)
    b, _ = probe_tool.load_split(one, 'train', 8, single)
    assert a['x'].shape[1] == 2 * 150 * 9
    np.testing.assert_allclose(a['x'], b['x'], rtol=1e-5, atol=1e-5)
    full, _ = probe_tool.load_split(four, 'train', 8, probe_tool.featurizer(metas[0]))
    assert full['x'].shape[1] == 4 * a['x'].shape[1]
    assert a['parts'].shape[1:] == (8, 8, 15)
    np.testing.assert_allclose(a['parts'].sum(-1), 1.0)
    out = str(tmp_path / 'rows.json')
    rows = probe_tool.main([four, '--models', 'ridge', '--grid', '8', '--out', out])
    assert set(rows) == {'ridge on CSI', 'ridge on shuffled CSI', 'mean training pose (no CSI)'}
    with open(out) as f:
        assert json.load(f)['windows_kept'] == 4
    # Doppler and raw features of the sequence world: the activity figures too
    probe_tool.main([four, '--features', 'both', '--out', out])
    with open(out) as f:
        saved = json.load(f)
    assert saved['features'] == 'both'
    assert {'accuracy', 'shuffled_accuracy', 'majority', 'oracle'} <= set(saved['activity'])
    with pytest.raises(ValueError, match='windows'):
        probe_tool.featurizer(metas[1], 2)
    # a box without size: a clear error (its pose and log size would be inf)
    ann_file = osp.join(one, 'annotations', 'densepose_train.json')
    with open(ann_file) as f:
        coco = json.load(f)
    ann = next(a for a in coco['annotations'] if a.get('dp_masks'))
    ann['bbox'][2] = 0.0
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    with pytest.raises(ValueError, match=f"annotation {ann['id']} has bbox"):
        probe_tool.load_split(one, 'train', 8, single)


def test_keypoint_ap_bound_is_one_for_the_truth_and_falls_with_the_box(probe_tool):
    rng = np.random.default_rng(0)
    val = _split(rng, 50)
    assert probe_tool.kpt_ap_bound(val['pose'], val['box'], val) == pytest.approx(1.0)
    shifted = val['box'] + [0.2 * 60, 0, 0, 0]  # a fifth of the width off
    assert probe_tool.kpt_ap_bound(val['pose'], shifted, val) < 0.2
    np.testing.assert_allclose(probe_tool.box_decode(probe_tool.box_code(val['box'])),
                               val['box'])


def test_probe_box_from_an_informative_input(probe_tool):
    """Boxes that follow the input code are regressed exactly; the
    shuffled control misplaces them, so its keypoint AP* is low even with
    the true pose."""

    def split(rng, n):
        data = _split(rng, n)
        idx = data['x'][:, :30].reshape(n, -1)[:, ::8].argmax(1)  # the code's pose id
        # less input noise than _split: a linear model's box error scales with it
        data['x'] = np.eye(4)[idx].repeat(8, 1)[:, :30] + rng.normal(0, 0.05, (n, 30))
        data['box'] = np.array([[20.0, 10, 60, 120], [120, 10, 60, 120], [20, 60, 40, 80],
                                [120, 60, 40, 80]])[idx] + rng.normal(0, 0.5, (n, 4))
        data['keypoints'] = data['pose'] * data['box'][:, None, 2:] + data['box'][:, None, :2]
        data['area'] = 0.5 * data['box'][:, 2] * data['box'][:, 3]
        return data

    rng = np.random.default_rng(2)
    rows = probe_tool.probe(split(rng, 240), split(rng, 80), models=['ridge'], seed=0)
    good, shuffled = rows['ridge on CSI'], rows['ridge on shuffled CSI']
    assert good['iou75'] > 0.95 and good['kpt_ap_true_pose'] > 0.8 and good['kpt_ap'] > 0.7
    assert shuffled['iou50'] < 0.5 and shuffled['kpt_ap_true_pose'] < 0.3
    assert good['kpt_ap_mean_pose'] < good['kpt_ap']


def _meta(layout: str, windows: int = 1) -> dict:
    return dict(csi=dict(layout=layout, windows=windows))


def test_doppler_features_see_motion_and_cancel_the_receiver_phase(probe_tool):
    """A body echo moving at 20 Hz Doppler on one receive antenna puts the
    power of the pair products in that bin; a per-packet phase offset and
    slope common to the receiver's antennas (the NIC's) changes nothing."""
    from mmdensekd.structures.csi_layout import CSI_LAYOUTS
    layout = CSI_LAYOUTS['person-in-wifi']  # 5 packets 10 ms apart, 30 subcarriers, 3x3
    rng = np.random.default_rng(0)
    shape = {c: layout.sizes[c] for c in 'ptsr'}
    static = rng.normal(size=(shape['t'], shape['s'], shape['r'])) + 1j * rng.normal(
        size=(shape['t'], shape['s'], shape['r']))
    t = np.arange(shape['p']) * 0.01
    h = np.broadcast_to(static, (shape['p'], ) + static.shape).copy()  # (p, t, s, r)
    h[..., 0] += 0.5 * np.exp(2j * np.pi * 20.0 * t)[:, None, None]  # 20 Hz = bin 1 of 5

    def to_layout(arr):  # (p, t, s, r) -> the layout's file shape
        return layout.to_file(arr.transpose(0, 2, 1, 3))

    feat = probe_tool.doppler_featurizer(_meta('person-in-wifi'))
    x = feat(to_layout(np.abs(h)), to_layout(np.angle(h)))
    pairs, groups = 3, 3
    power = x[:shape['t'] * shape['p'] * groups * pairs].reshape(
        shape['t'], shape['p'], groups, pairs)
    # pairs (0, 1) and (0, 2) carry the tone in bin 1; pair (1, 2) is static
    assert (power[:, 1, :, :2] > power[:, 0, :, :2] + 5).all()
    assert (power[:, 1, :, :2] > power[:, 2:, :, :2].max(1) + 5).all()
    assert (power[:, :, :, 2] < np.log(1e-3) + 1e-6).all()
    # the NIC's per-packet phase offset and slope: common to all antennas
    offset = rng.uniform(-np.pi, np.pi, shape['p'])[:, None, None, None]
    slope = rng.uniform(-0.3, 0.3, shape['p'])[:, None, None, None] * np.arange(
        shape['s'])[None, None, :, None]
    h2 = h * np.exp(1j * (offset + slope))
    np.testing.assert_allclose(feat(to_layout(np.abs(h2)), to_layout(np.angle(h2))), x,
                               atol=1e-6)
    # other layouts: links and windows become axes of their own
    for name, windows, size in (('mmfi', 1, 1 * 10 * 11 * 3 + 1 * 11 * 3),
                                ('person-in-wifi-3d-4w', 4, 3 * 4 * 5 * 3 * 3 + 3 * 4 * 3 * 3)):
        other = CSI_LAYOUTS[name]
        amp = rng.uniform(1, 2, other.shape)
        out = probe_tool.doppler_featurizer(_meta(name, windows))(amp, np.zeros(other.shape))
        assert out.shape == (size, ) and np.isfinite(out).all()
    with pytest.raises(ValueError, match='packets per window'):
        probe_tool.doppler_featurizer(_meta('mmfi', windows=10))  # one packet per window


def test_activity_probe_recognises_an_encoded_activity(probe_tool):
    def split(rng, n, informative=True):
        data = _split(rng, n)
        idx = data['x'][:, :30].reshape(n, -1)[:, ::8].argmax(1)  # the pose id = activity
        data['activity'] = np.array(['walking', 'bending', 'sitting', 'raising'])[idx]
        if not informative:
            data['x'] = rng.normal(0, 1, data['x'].shape)
        return data

    rng = np.random.default_rng(3)
    train, val = split(rng, 240), split(rng, 80)
    out = probe_tool.activity_probe(train, val)
    assert out['accuracy'] > 0.95 and out['shuffled_accuracy'] < 0.5
    # each activity has one pose here: the oracle places it
    assert out['oracle']['oks50'] > 0.95
    noise = probe_tool.activity_probe(split(rng, 240, False), split(rng, 80, False))
    assert noise['accuracy'] < 0.5
