# Copyright (c) mmdensekd contributors. All rights reserved.
"""Sensing of published systems: several receivers, temporal windows,
sequences of people who move."""
import json
import os.path as osp

import numpy as np
import pytest

from mmdensekd.simulation import ChannelConfig, generate_dataset, make_frame, simulate_csi
from mmdensekd.simulation.body import Primitives, build_body
from mmdensekd.simulation.scene import FrameScene, make_layout
from mmdensekd.simulation.sequences import ACTIVITIES, sample_sequence, sequence_people
from mmdensekd.simulation.wifi_channel import receiver_sites
from mmdensekd.simulation.writer import SENSING
from mmdensekd.structures.csi_layout import CSI_LAYOUTS, SPEED_OF_LIGHT

SIZE = (96, 72)


def test_every_receiver_sees_the_closed_form_path_of_one_point_scatterer():
    # no shadowing, so the CSI with the scatterer minus the empty room's is
    # exactly the scatterer's path sum, at every antenna of every receiver
    cfg = ChannelConfig(block_strength=0.0)
    layout = make_layout(0, 0)
    csi = CSI_LAYOUTS['person-in-wifi-3d']
    r, centre = 0.1, np.array([3.0, 3.5, 1.1])
    sphere = Primitives(a=centre[None], rot=np.eye(3)[None], radii=np.full((1, 3), r),
                        h=np.zeros(1), part=np.array([14]), person=np.zeros(1, np.int64))
    empty = Primitives.concat([])
    args = dict(snr_db=None, cfg=cfg, impair=False, motion=False)
    full = simulate_csi(FrameScene(layout, [], np.zeros((0, 17, 3)), sphere, []), csi,
                        np.random.default_rng(0), **args)['clean']
    static = simulate_csi(FrameScene(layout, [], np.zeros((0, 17, 3)), empty, []), csi,
                          np.random.default_rng(0), **args)['clean']
    assert full.shape == (3, 5, 30, 1, 3)  # (L, Q, K, T, R)
    spacing = csi.wavelength / 2
    tx = np.asarray(layout.tx, float)  # one transmit antenna: the array centre
    area = 4 * np.pi * r * r
    sites = receiver_sites(layout, 3)
    assert len({tuple(np.round(c, 3)) for c, _ in sites}) == 3  # three places
    for link, (site, axis) in enumerate(sites):
        for j in range(3):
            rx = site + (j - 1) * spacing * axis
            d1, d2 = np.linalg.norm(centre - tx), np.linalg.norm(centre - rx)
            expected = (cfg.ref_gain * cfg.body_gain * area / (d1 * d2)
                        * np.exp(-2j * np.pi * csi.freqs * (d1 + d2) / SPEED_OF_LIGHT))
            for q in range(csi.num_packets):
                np.testing.assert_allclose(full[link, q, :, 0, j] - static[link, q, :, 0, j],
                                           expected, rtol=1e-8, atol=1e-12)
    # link 0 is the single-link layout's receiver
    np.testing.assert_allclose(sites[0][0], layout.rx)


def test_links_are_separate_nics_and_file_layout():
    frame = make_frame(3, 'train', 0, 3, SIZE, 1, 1, 'person-in-wifi-3d', 25.0)
    out = frame['csi']
    assert out['measured'].shape == (3, 5, 30, 1, 3)
    assert out['offset'].shape == (3, 5)
    assert not np.allclose(out['offset'][0], out['offset'][1])  # own phase offsets
    written = CSI_LAYOUTS['person-in-wifi-3d'].to_file(out['measured'])
    assert written.shape == (3, 150, 3)
    # rows of the 150 are packet * 30 + subcarrier
    np.testing.assert_array_equal(written[2, 1 * 30 + 7, 1], out['measured'][2, 1, 7, 0, 1])


@pytest.mark.parametrize('name', sorted(CSI_LAYOUTS))
def test_from_file_inverts_to_file(name):
    layout = CSI_LAYOUTS[name]
    sizes = layout.sizes
    csi = np.random.default_rng(0).normal(size=[sizes[c] for c in 'lpstr'])
    written = layout.to_file(csi)
    np.testing.assert_array_equal(layout.from_file(written), csi)
    with pytest.raises(ValueError, match=f'layout {name!r}: array of shape'):
        layout.from_file(written.ravel())


def test_temporal_windows_stack_in_time_order():
    kw = dict(stations=6, heading_jitter=0.3, sequence_frames=8)
    stacked = make_frame(1, 'train', 5, 3, SIZE, 1, 1, 'person-in-wifi-4w', None,
                         windows=4, **kw)
    assert stacked['time'] == 5 and stacked['csi']['measured'].shape == (20, 30, 3, 3)
    singles = [make_frame(1, 'train', t, 3, SIZE, 1, 1, 'person-in-wifi', None, **kw)
               for t in range(2, 6)]
    for k, single in enumerate(singles):  # window k = frame 2 + k, oldest first
        np.testing.assert_array_equal(stacked['csi']['measured'][5 * k:5 * k + 5],
                                      single['csi']['measured'])
    # the windows differ (the person moves), so the order is not arbitrary
    assert not np.allclose(singles[0]['csi']['measured'], singles[3]['csi']['measured'])
    # frame 0 of a sequence: earlier windows see the person as at its start
    first = make_frame(1, 'train', 8, 3, SIZE, 1, 1, 'person-in-wifi-4w', None, windows=4,
                       **kw)
    assert first['time'] == 0
    with pytest.raises(ValueError, match='sequence mode'):
        make_frame(1, 'train', 5, 3, SIZE, 1, 1, 'person-in-wifi-4w', None, windows=4)


@pytest.mark.parametrize('activity', ACTIVITIES)
def test_sequences_move_smoothly_and_do_their_activity(activity):
    layout = make_layout(0, 0)
    spec = sample_sequence(layout, np.random.default_rng(4), 20, 256, 192,
                           heading_jitter=0.3, activity=activity)
    assert spec.activity == activity
    joints = []
    for t in range(20):
        person = sequence_people(spec, t)[0]
        j, _, _ = build_body(person.shape, person.pose, person.yaw, person.position)
        joints.append(j)
    joints = np.stack(joints)
    step = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max()
    assert step < 0.25  # metres per frame (10 frames/s)
    travel = np.linalg.norm(joints - joints[:1], axis=-1).max()
    assert travel > 0.3  # something moves
    head = joints[:, 0, 2]
    wrists = joints[:, 9:11, 2].max(-1)
    hips = joints[:, 11:13, 2].mean(-1)
    if activity == 'raising_arms':
        assert wrists.max() > head.max() - 0.25 and wrists[0] < hips[0] + 0.3
    if activity == 'sitting_down':
        assert hips[-1] < hips[0] - 0.2 and sequence_people(spec, 19)[0].pose['kind'] == 'sitting'
    if activity == 'bending':
        assert head.min() < head[0] - 0.15
    if activity == 'walking':
        pos = np.array([sequence_people(spec, t)[0].position for t in (0, 19)])
        assert np.linalg.norm(pos[1] - pos[0]) > 0.4


def test_sequence_world_splits_share_no_sequence(tmp_path):
    meta = generate_dataset(str(tmp_path), num_train=6, num_val=4, num_test_layout=0,
                            img_size=SIZE, max_people=1, layouts=2, seed=2, workers=1,
                            progress=False, sensing='person-in-wifi-4w', sequence_frames=3,
                            stations=4, heading_jitter_deg=20)
    assert meta['options']['sensing'] == 'person-in-wifi-4w'
    assert meta['options']['sequence_frames'] == 3 and meta['csi']['windows'] == 4
    assert meta['csi']['shape'] == [600, 3, 3]
    # the students' CSI statistics of the training split travel with the data
    from mmdensekd.datasets.csi_stats import read_csi_stats
    mean, std = read_csi_stats(osp.join(str(tmp_path), 'meta.json'))
    assert meta['csi_stats']['num_samples'] == 6 and len(mean) == len(std) == 2
    assert mean[0] > 0 and all(s > 0 for s in std)
    seqs = {}
    for split in ('train', 'val'):
        with open(osp.join(str(tmp_path), 'annotations', f'densepose_{split}.json')) as f:
            images = json.load(f)['images']
        seqs[split] = [im['sequence_id'] for im in images]
        assert [im['sequence_frame'] for im in images] == [i % 3 for i in range(len(images))]
        assert all(im['activity'] in ACTIVITIES for im in images)
    assert seqs['train'] == ['train-00000'] * 3 + ['train-00001'] * 3
    assert not set(seqs['train']) & set(seqs['val'])
    with pytest.raises(ValueError, match='sequence mode'):
        generate_dataset(str(tmp_path / 'x'), num_train=1, num_val=0, num_test_layout=0,
                         layouts=1, max_people=1, progress=False, sensing='person-in-wifi-4w')
    with pytest.raises(ValueError, match='one person'):
        generate_dataset(str(tmp_path / 'y'), num_train=1, num_val=0, num_test_layout=0,
                         layouts=1, max_people=2, progress=False, sequence_frames=3)


def test_every_sensing_preset_names_a_layout_that_divides_into_its_windows():
    for name, preset in SENSING.items():
        layout = CSI_LAYOUTS[preset['csi_layout']]
        assert layout.num_packets % preset['windows'] == 0, name
