# Copyright (c) mmdensekd contributors. All rights reserved.
"""Per-frame windowing of CSI packets and mapping to model layouts."""
import os.path as osp

import numpy as np
import pytest

from mmdensekd.datasets.csi_capture import read_csi_capture, unwrap_timestamps
from mmdensekd.datasets.csi_windowing import (
    StreamWindower,
    capture_to_frames,
    count_dropped_packets,
    frame_times_from_fps,
    null_subcarriers,
    window_packets,
    windows_to_layout,
)
from mmdensekd.structures.csi_layout import CSI_LAYOUTS as LAYOUTS
from mmdensekd.structures.csi_layout import CSILayout, layout_from_shape, parse_layout

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'wifi_captures')
INTEL = osp.join(DATA, 'sample_0x1_ap.dat')
ESP32 = osp.join(DATA, 'example_csi.csv')


@pytest.fixture(scope='module')
def intel():
    return read_csi_capture(INTEL)


def test_layouts():
    assert LAYOUTS['person-in-wifi'].shape == (150, 3, 3)
    assert LAYOUTS['mmfi'].shape == (3, 114, 10)
    assert parse_layout('mmfi', packets_per_frame=5).shape == (3, 114, 5)
    assert parse_layout('ps,t,r:5,30,3,3').shape == (150, 3, 3)
    assert parse_layout('r,s,p:10,30,1,3').shape == (3, 30, 10)
    assert layout_from_shape((150, 3, 3)).name == 'person-in-wifi'
    with pytest.raises(ValueError, match="unknown CSI layout 'wifi'"):
        parse_layout('wifi')
    with pytest.raises(ValueError, match='leave out'):
        CSILayout('bad', 5, 30, 3, 3, ('ps', 'r'))
    with pytest.raises(ValueError, match='no named CSI layout has shape'):
        layout_from_shape((1, 2))


def test_synthetic_wrap_and_drops():
    """10 ms packets of a 32-bit microsecond clock that wraps, with 3 + 1 dropped."""
    period = 2**32
    ticks = period - 35000 + 10000 * np.arange(12)
    keep = np.ones(12, bool)
    keep[[4, 5, 6, 9]] = False  # a gap of 3 packets, then one of 1
    raw = (ticks[keep] % period).astype(np.uint32)
    assert raw[4] < raw[3]  # the counter wrapped inside the first gap
    unwrapped, wraps = unwrap_timestamps(raw)
    assert wraps == 1
    np.testing.assert_array_equal(unwrapped, ticks[keep])
    dropped, gaps = count_dropped_packets(unwrapped * 1e-6)
    assert dropped == 4
    np.testing.assert_array_equal(gaps, [4, 6])
    # at a nominal 5 ms: 110 ms span = 23 slots, 8 received -> 15 missing
    assert count_dropped_packets(unwrapped * 1e-6, interval=0.005)[0] == 15


def test_window_fill_and_skip():
    times = np.array([0.00, 0.02, 0.04, 0.06, 0.08,  # frame 0: 5 packets
                      0.10, 0.14, 0.16,  # frame 1: 3 packets, 2 dropped
                      0.28])  # frame 2: 1 packet -> skipped
    csi = (np.arange(len(times), dtype=np.float32) + 1j)[:, None, None, None] * np.ones(
        (1, 2, 1, 1))
    win = window_packets(times, csi, np.array([0.05, 0.15, 0.25]), 5, window=0.1)
    assert win.frames.tolist() == [0, 1] and win.skipped == [2]
    assert win.num_filled == 2 and win.csi.shape == (2, 5, 2, 1, 1)
    assert win.valid[0].all() and win.valid[1].sum() == 3
    assert np.all(np.diff(win.packet_times[1]) >= 0)
    # filled packets sit in the window's gaps, interpolated linearly in time
    filled = win.csi[1][~win.valid[1]][:, 0, 0, 0]
    t_filled = win.packet_times[1][~win.valid[1]]
    assert ((t_filled > 0.10) & (t_filled < 0.20)).all()
    assert not np.isin(np.round(t_filled, 6), np.round(times, 6)).any()
    np.testing.assert_allclose(filled.real, np.interp(t_filled, times, np.arange(9.0)),
                               rtol=1e-5)
    np.testing.assert_allclose(filled.imag, 1.0)
    nearest = window_packets(times, csi, np.array([0.15]), 5, window=0.1, fill='nearest')
    assert set(nearest.csi[0, :, 0, 0, 0].real.tolist()) == {5.0, 6.0, 7.0}


def test_intel_frames_for_fps(intel):
    """59.6 s at ~10 packets/s cut at 2 fps into 5-packet Person-in-WiFi windows."""
    fps = 2.0
    duration = intel.timestamps[-1] - intel.timestamps[0]
    frame_times = frame_times_from_fps(intel.timestamps[0], intel.timestamps[-1], fps)
    assert len(frame_times) == int(np.floor(duration * fps)) == 119
    frames = capture_to_frames(intel, LAYOUTS['person-in-wifi'], fps=fps)
    # independent count: packets per 0.5 s bin; bins with < ceil(5 / 2) are skipped
    edges = intel.timestamps[0] + np.arange(120) / fps
    counts = np.histogram(intel.timestamps, bins=edges)[0]
    assert frames.num_frames == 119
    assert len(frames.windows) == int((counts >= 3).sum()) == 114
    assert frames.windows.skipped == np.nonzero(counts < 3)[0].tolist()
    assert frames.windows.num_filled == int(np.sum(np.clip(5 - counts[counts >= 3], 0, None)))
    assert frames.amplitude.shape == frames.phase.shape == (114, 150, 3, 3)
    assert np.abs(frames.phase).max() <= np.pi + 1e-6
    assert frames.packet_rate == pytest.approx(1e6 / 100823, rel=1e-3)


def test_layout_mapping_values(intel):
    win = window_packets(intel.timestamps, intel.csi, intel.timestamps[2:3], 5, window=0.5)
    amp, phase = windows_to_layout(win.csi, LAYOUTS['person-in-wifi'])
    # (P, S, R, T) -> (P * S, T, R); tx 2 of 3 repeats tx 0
    ref = np.abs(win.csi[0]).transpose(0, 1, 3, 2).reshape(150, 2, 3)
    np.testing.assert_allclose(amp[0, :, :2], ref, rtol=1e-5)
    np.testing.assert_allclose(amp[0, :, 2], ref[:, 0], rtol=1e-5)
    np.testing.assert_allclose(np.exp(1j * phase[0, :, :2]),
                               np.exp(1j * np.angle(win.csi[0])).transpose(0, 1, 3, 2)
                               .reshape(150, 2, 3), atol=1e-4)
    zero = windows_to_layout(win.csi, LAYOUTS['person-in-wifi'], antenna_fill='zero')[0]
    assert not zero[0, :, 2].any()
    with pytest.raises(ValueError, match='2 transmit antennas cannot map'):
        windows_to_layout(win.csi, LAYOUTS['person-in-wifi'], antenna_fill='error')
    db = windows_to_layout(win.csi, LAYOUTS['person-in-wifi'], amplitude='db')[0]
    np.testing.assert_allclose(db, 20 * np.log10(np.maximum(amp, 1e-6)), rtol=1e-4)


def test_subcarrier_mapping_and_errors(intel):
    win = window_packets(intel.timestamps, intel.csi, intel.timestamps[5:6], 10, window=1.0)
    amp, _ = windows_to_layout(win.csi, LAYOUTS['mmfi'], amplitude='linear', source='intel')
    assert amp.shape == (1, 3, 114, 10)
    # 'auto' (default) gives MM-Fi's dB amplitudes
    np.testing.assert_allclose(windows_to_layout(win.csi, LAYOUTS['mmfi'])[0],
                               20 * np.log10(np.maximum(amp, 1e-6)), rtol=1e-4)
    # end points of the interpolated subcarrier axis are the real ones
    np.testing.assert_allclose(amp[0, :, 0, :], np.abs(win.csi[0, :, 0, :, 0]).T, rtol=1e-5)
    np.testing.assert_allclose(amp[0, :, -1, :], np.abs(win.csi[0, :, -1, :, 0]).T, rtol=1e-5)
    with pytest.raises(ValueError, match=r"intel: 30 subcarriers cannot map to the layout's "
                       r"114 \(subcarrier mode 'exact'\)"):
        windows_to_layout(win.csi, LAYOUTS['mmfi'], subcarriers='exact', source='intel')
    with pytest.raises(ValueError, match=r"30 subcarriers cannot map to the layout's 150 "
                       r'\(upsampling x5.00'):
        windows_to_layout(win.csi, parse_layout('r,s,p:10,150,1,3'), source='intel')


def test_esp32_null_subcarriers_and_short_capture(tmp_path):
    esp = read_csi_capture(ESP32)
    null = null_subcarriers(esp.csi)
    assert 0 < null.sum() < 64
    with pytest.raises(ValueError, match=r'example_csi\.csv has 13 packets, fewer than one '
                       'window of 150'):
        capture_to_frames(esp, parse_layout('ps,t,r:150,30,1,1'), fps=1.0)
    frames = capture_to_frames(esp, parse_layout('ps,t,r:5,30,3,3'), fps=50.0)
    assert frames.null_subcarriers == int(null.sum())
    assert frames.amplitude.shape[1:] == (150, 3, 3)
    with pytest.raises(ValueError, match='none of the .* frame windows holds enough packets'):
        capture_to_frames(esp, parse_layout('ps,t,r:5,30,3,3'),
                          frame_times=esp.timestamps[0] + np.array([100.0, 101.0]))


@pytest.mark.parametrize('fps, window', [(2.0, None), (7.0, None), (2.0, 1.3)])
def test_stream_windower_equals_offline(intel, fps, window):
    """Packets pushed one by one give the converter's frames, skips and fills
    (overlapping windows included)."""
    layout = LAYOUTS['person-in-wifi']
    offline = capture_to_frames(intel, layout, fps=fps, window=window)
    stream = StreamWindower(layout, fps=fps, window=window)
    frames = []
    for t, c in zip(intel.timestamps, intel.csi):
        frames += stream.push(t, c)
    frames += stream.flush()
    assert [f.index for f in frames] == offline.windows.frames.tolist()
    assert stream.skipped == offline.windows.skipped
    assert stream.counts['filled_packets'] == offline.windows.num_filled > 0
    np.testing.assert_array_equal(np.stack([f.amplitude for f in frames]), offline.amplitude)
    np.testing.assert_array_equal(np.stack([f.phase for f in frames]), offline.phase)
    assert len(stream._t) < 40  # only the packets later windows need are kept


def test_stream_windower_live_rules(intel):
    layout = LAYOUTS['person-in-wifi']
    stream = StreamWindower(layout, fps=2.0, warmup_packets=5)
    t, c = intel.timestamps, intel.csi
    for i in range(30):
        stream.push(t[i], c[i])
    stream.push(t[29] - 0.01, c[30])  # slightly backwards: dropped
    assert stream.counts['backwards'] == 1
    before = stream.counts['frames']
    out = stream.push(t[29] - 5.0, c[31])  # device rebooted: flush and restart
    assert stream.counts['clock_resets'] == 1 and stream.counts['frames'] >= before
    assert all(f.index < 6 for f in out)
    for i in range(32, 60):
        out = stream.push(t[i] - 5.0, c[i])
    assert stream.counts['frames'] > before
    with pytest.raises(ValueError, match='min_packets must be in'):
        StreamWindower(layout, min_packets=9)
