# Copyright (c) mmdensekd contributors. All rights reserved.
import numpy as np
import pytest

from mmdensekd.datasets.transforms import CSIPhaseSanitize
from mmdensekd.simulation import (
    ChannelConfig,
    channel_response,
    make_frame,
    simulate_csi,
)
from mmdensekd.simulation.body import Primitives
from mmdensekd.simulation.scene import FrameScene
from mmdensekd.simulation.wifi_channel import layout_antennas
from mmdensekd.structures.csi_layout import CSI_LAYOUTS, SPEED_OF_LIGHT

SIZE = (96, 72)


def _frame(index=0, csi='person-in-wifi'):
    return make_frame(3, 'train', index, 3, SIZE, 1, 2, csi, None)


def test_single_point_scatterer_is_the_closed_form_path_sum():
    cfg = ChannelConfig(body_gain=2.0)
    tx = np.array([[0.0, 0.0, 1.0], [0.0, 0.06, 1.0]])
    rx = np.array([[4.0, 0.5, 1.2]])
    # one sphere of radius r: a capsule with h = 0 scatters from its centre
    r, centre = 0.1, np.array([2.0, 1.5, 1.1])
    sphere = Primitives(a=centre[None], rot=np.eye(3)[None], radii=np.full((1, 3), r),
                        h=np.zeros(1), part=np.array([14]), person=np.zeros(1, np.int64))
    freqs = CSI_LAYOUTS['person-in-wifi'].freqs
    h = channel_response(freqs, tx, rx, None, sphere, cfg, los=False)
    area = sphere.surface_area()[0]
    np.testing.assert_allclose(area, 4 * np.pi * r * r)
    for i in range(2):
        d1, d2 = np.linalg.norm(centre - tx[i]), np.linalg.norm(centre - rx[0])
        expected = (cfg.ref_gain * cfg.body_gain * area / (d1 * d2)
                    * np.exp(-2j * np.pi * freqs * (d1 + d2) / SPEED_OF_LIGHT))
        np.testing.assert_allclose(h[i, 0], expected, rtol=1e-10)
    # free-space line of sight alone
    h_los = channel_response(freqs, tx, rx, None, None, cfg)
    d = np.linalg.norm(tx[0] - rx[0])
    np.testing.assert_allclose(
        h_los[0, 0], cfg.ref_gain / d * np.exp(-2j * np.pi * freqs * d / SPEED_OF_LIGHT))


def test_empty_room_gives_the_static_channel_and_people_change_it():
    frame = _frame()
    scene, layout = frame['scene'], frame['scene'].layout
    csi = CSI_LAYOUTS['person-in-wifi']
    tx, rx = layout_antennas(layout, csi)
    empty = FrameScene(layout, [], np.zeros((0, 17, 3)), Primitives.concat([]), [])
    out = simulate_csi(empty, csi, np.random.default_rng(0), snr_db=None, impair=False)
    static = channel_response(csi.freqs, tx, rx, layout, None, ChannelConfig())
    for q in range(csi.num_packets):
        np.testing.assert_allclose(out['clean'][q], static.transpose(2, 0, 1))
    with_people = simulate_csi(scene, csi, np.random.default_rng(0), snr_db=None,
                               impair=False, motion=False)['clean'][0]
    change = np.abs(with_people - static.transpose(2, 0, 1)).mean()
    assert change > 0.3 * np.abs(static).mean()  # bodies dominate the channel change


def test_moving_a_person_changes_the_csi_and_motion_varies_packets():
    scene = _frame()['scene']
    csi = CSI_LAYOUTS['person-in-wifi']
    base = simulate_csi(scene, csi, np.random.default_rng(0), snr_db=None, impair=False,
                        motion=False)['clean'][0]
    moved = FrameScene(scene.layout, scene.people, scene.joints,
                       scene.prims.translate(np.array([0.3, 0.2, 0.0])), scene.props)
    after = simulate_csi(moved, csi, np.random.default_rng(0), snr_db=None, impair=False,
                         motion=False)['clean'][0]
    assert np.abs(after - base).mean() > 0.1 * np.abs(base).mean()
    packets = simulate_csi(scene, csi, np.random.default_rng(0), snr_db=None, impair=False)
    centre = csi.num_packets // 2
    np.testing.assert_allclose(packets['clean'][centre], base)  # the camera frame's instant
    assert not np.allclose(packets['clean'][0], base)


@pytest.mark.parametrize('name', ['person-in-wifi', 'mmfi'])
def test_phase_sanitize_removes_the_injected_slope_and_offset(name):
    csi = CSI_LAYOUTS[name]
    scene = _frame(1, name)['scene']
    out = simulate_csi(scene, csi, np.random.default_rng(1), snr_db=None, motion=False)
    assert np.abs(out['slope']).max() > 0.01 and np.abs(out['offset']).max() > 0.1
    raw = np.angle(csi.to_file(out['measured']))
    clean = np.angle(csi.to_file(out['clean']))
    assert np.abs(np.angle(np.exp(1j * (raw - clean)))).mean() > 0.5
    # median filtering is not linear; with it off the removal is exact
    sanitize = CSIPhaseSanitize(median_size=1, **csi.sanitize_kwargs())
    a = sanitize(dict(csi_phase=raw.astype(np.float64)))['csi_phase']
    b = sanitize(dict(csi_phase=clean.astype(np.float64)))['csi_phase']
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert a.shape == csi.shape


def test_noise_follows_the_snr():
    scene = _frame()['scene']
    csi = CSI_LAYOUTS['mmfi']
    for snr in (10.0, 30.0):
        out = simulate_csi(scene, csi, np.random.default_rng(2), snr_db=snr, impair=False,
                           motion=False)
        noise = np.mean(np.abs(out['measured'] - out['clean'])**2)
        measured_snr = 10 * np.log10(np.mean(np.abs(out['clean'])**2) / noise)
        assert abs(measured_snr - snr) < 0.5
