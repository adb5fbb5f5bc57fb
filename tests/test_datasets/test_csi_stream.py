# Copyright (c) mmdensekd contributors. All rights reserved.
"""Live CSI sources: real captures sent over loopback UDP, a pseudo-terminal
and a growing file give exactly the offline converter's frames; bad input
is counted, never raised."""
import os
import os.path as osp
import socket
import threading

import numpy as np
import pytest

from mmdensekd.datasets.csi_capture import read_csi_capture
from mmdensekd.datasets.csi_stream import (
    FollowSource,
    LiveCSIStream,
    PacketError,
    ReplaySource,
    SerialSource,
    StreamStats,
    TickClock,
    UDPSource,
    capture_records,
    open_source,
    parse_esp32_line,
    replay_records,
)
from mmdensekd.datasets.csi_windowing import StreamWindower, capture_to_frames
from mmdensekd.structures.csi_layout import parse_layout

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'wifi_captures')
INTEL = osp.join(DATA, 'sample_0x1_ap.dat')
ESP32 = osp.join(DATA, 'example_csi.csv')
NEXMON = osp.join(DATA, 'example.pcap')
SPEED = 40.0  # the 59.6 s Intel capture plays in 1.5 s


def collect(source, windower, until_packets, timeout=20.0, flush=True):
    """Frames of ``source`` until it has delivered ``until_packets`` packets."""
    stream = LiveCSIStream(source, windower, stall_timeout=timeout, max_queue=0).start()
    frames = []
    try:
        import time
        end = time.perf_counter() + timeout
        while windower.counts['packets'] < until_packets and not stream.finished and \
                time.perf_counter() < end:
            frame = stream.get(0.05)
            if frame is not None:
                frames.append(frame)
    finally:
        stream.stop()
    while stream.frames:
        frames.append(stream.frames.popleft())
    if flush:
        frames += windower.flush()
    return frames, stream


def assert_same_frames(frames, windower, offline):
    win = offline.windows
    assert [f.index for f in frames] == win.frames.tolist()
    assert windower.skipped == win.skipped
    assert windower.counts['skipped_frames'] == len(win.skipped)
    assert windower.counts['filled_packets'] == win.num_filled
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.amplitude, offline.amplitude[i])
        np.testing.assert_array_equal(frame.phase, offline.phase[i])
        np.testing.assert_array_equal(frame.valid, win.valid[i])
        np.testing.assert_array_equal(frame.packet_times, win.packet_times[i])


def send_in_thread(records, send, speed=SPEED):
    thread = threading.Thread(target=replay_records, args=(records, send, speed))
    thread.start()
    return thread


def test_parsers_match_csiread():
    esp = read_csi_capture(ESP32)
    fmt, records = capture_records(ESP32)
    assert fmt == 'esp32' and len(records) == len(esp) == 13
    stamp, csi = parse_esp32_line(records[0][1].decode())
    assert stamp == 80272146
    np.testing.assert_array_equal(csi, esp.csi[0])
    np.testing.assert_array_equal([t for t, _ in records], esp.timestamps)
    with pytest.raises(PacketError, match='cut in the middle') as err:
        parse_esp32_line(records[0][1].decode()[:200])
    assert err.value.reason == 'malformed_lines'
    with pytest.raises(PacketError, match='not a CSI_DATA line'):
        parse_esp32_line('I (1234) wifi: connected')
    # a 32-bit microsecond clock wraps like unwrap_timestamps
    clock = TickClock()
    assert [clock.seconds(v) for v in (2**32 - 10, 5, 20)] == [
        (2**32 - 10) * 1e-6, (2**32 + 5) * 1e-6, (2**32 + 20) * 1e-6]
    assert clock.wraps == 1


def test_follow_growing_intel_file(tmp_path):
    """log_to_file appending in real time (x40) -> frames of the converter."""
    intel = read_csi_capture(INTEL)
    layout = parse_layout('person-in-wifi')
    offline = capture_to_frames(intel, layout, fps=2.0)
    _, records = capture_records(INTEL)
    assert len(records) == len(intel) == 540
    path = tmp_path / 'live.dat'
    path.write_bytes(b'')
    source = FollowSource(str(path))
    with open(path, 'ab', buffering=0) as f:
        writer = send_in_thread(records, f.write)
        windower = StreamWindower(layout, fps=2.0)
        frames, stream = collect(source, windower, len(intel))
        writer.join()
    assert windower.counts['packets'] == 540
    assert_same_frames(frames, windower, offline)
    assert len(frames) == 114 and windower.counts['skipped_frames'] == 5
    assert stream.stats.counts.get('malformed_records', 0) == 0


def test_udp_intel_records_and_nexmon(tmp_path):
    """Intel records (log_to_server style) over loopback UDP; nexmon payloads."""
    intel = read_csi_capture(INTEL)
    layout = parse_layout('person-in-wifi')
    offline = capture_to_frames(intel, layout, fps=2.0)
    source = UDPSource('127.0.0.1', 0)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ('127.0.0.1', source.port)
    _, records = capture_records(INTEL)
    # half the records with their file length prefix, half without
    records = [(t, r if i % 2 else r[2:]) for i, (t, r) in enumerate(records)]
    bad = [(records[0][0], b'\x11\x11\x11\x11garbage'), (records[0][0], b'\xbb\x00\x01'),
           (records[0][0], b'hello')]
    writer = send_in_thread(bad + records, lambda d: out.sendto(d, target))
    windower = StreamWindower(layout, fps=2.0)
    frames, stream = collect(source, windower, len(intel))
    writer.join()
    assert_same_frames(frames, windower, offline)
    assert stream.stats.get('malformed_datagrams') == 2
    assert stream.stats.get('malformed_records') == 1
    assert 'nexmon_csi payload of 11 bytes' in stream.stats.last['malformed_datagrams'] or \
        'neither nexmon_csi nor an Intel' in stream.stats.last['malformed_datagrams']

    nexmon = read_csi_capture(NEXMON, chip='4358', bw=80)
    source = UDPSource('127.0.0.1', 0)
    fmt, payloads = capture_records(NEXMON)
    assert fmt == 'nexmon' and len(payloads) == 4
    for _, payload in payloads:
        out.sendto(payload, ('127.0.0.1', source.port))
    got = []
    for _ in range(20):
        got += source.read(0.1)
        if len(got) == 4:
            break
    source.close()
    out.close()
    np.testing.assert_array_equal(np.stack([p.csi for p in got]), nexmon.csi)


def test_pty_esp32_serial_with_cut_line():
    """ESP32-CSI-Tool lines through a pseudo-terminal, one line cut short."""
    esp = read_csi_capture(ESP32)
    layout = parse_layout('ps,t,r:2,30,3,3')
    offline = capture_to_frames(esp, layout, fps=100.0)
    master, slave = os.openpty()
    source = SerialSource(os.ttyname(slave), 921600)
    os.close(slave)
    _, records = capture_records(ESP32)
    cut = records[3][1][:150]  # the serial line dropped out mid-line
    sent = [(records[0][0], b'I (120) boot: ESP32-CSI-Tool\n')] + records[:3] + \
        [(records[3][0], cut)] + records[3:]
    writer = send_in_thread(sent, lambda d: os.write(master, d), speed=1.0)
    windower = StreamWindower(layout, fps=100.0)
    frames, stream = collect(source, windower, len(esp), timeout=10.0)
    writer.join()
    os.close(master)
    assert windower.counts['packets'] == 13
    assert len(frames) == len(offline.windows) > 0
    assert_same_frames(frames, windower, offline)
    assert stream.stats.get('malformed_lines') == 1
    assert 'cut in the middle' in stream.stats.last['malformed_lines']
    assert stream.stats.get('non_csi_lines') == 1


def test_follow_truncated_and_rotated(tmp_path):
    _, records = capture_records(ESP32)
    lines = [r for _, r in records]
    path = tmp_path / 'esp.csv'
    path.write_bytes(b''.join(lines[:6]))
    source = FollowSource(str(path))
    got = source.read(0.2)
    assert len(got) == 6
    path.write_bytes(b''.join(lines[:2]))  # truncated (e.g. logger restarted)
    got = source.read(0.2)
    assert source.stats.get('truncated') == 1 and len(got) == 2
    assert 'shrank' in source.stats.last['truncated']
    os.rename(path, tmp_path / 'esp.csv.1')  # rotated
    path.write_bytes(b''.join(lines[5:9]))
    got = source.read(0.2)
    assert source.stats.get('rotated') == 1 and len(got) == 4
    np.testing.assert_array_equal(got[0].csi, read_csi_capture(ESP32).csi[5])
    source.close()
    # a garbage run inside an Intel stream is skipped to the next record
    _, intel = capture_records(INTEL)
    bad = tmp_path / 'bad.dat'
    bad.write_bytes(intel[0][1] + b'\x00\x07junkjunk' + intel[1][1] + intel[2][1])
    source = FollowSource(str(bad), fmt='intel5300')
    got = source.read(0.2)
    source.close()
    assert len(got) == 3 and source.stats.get('malformed_records') == 1


def test_stall_and_replay(tmp_path):
    """A silent source is a counted, named stall; replay ends and flushes."""
    source = UDPSource('127.0.0.1', 0)
    windower = StreamWindower(parse_layout('person-in-wifi'), fps=2.0)
    stream = LiveCSIStream(source, windower, stall_timeout=0.3).start()
    import time
    time.sleep(0.8)
    assert stream.stalled and stream.stats.get('stalls') == 1
    assert f'udp://127.0.0.1:{source.port}: no packets for' in stream.stats.last['stalls']
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.sendto(capture_records(INTEL)[1][0][1], ('127.0.0.1', source.port))
    out.close()
    time.sleep(0.3)
    assert not stream.stalled and stream.stats.get('resumed') == 1
    stream.stop()

    replay = open_source(f'replay:{ESP32}?speed=100')
    assert isinstance(replay, ReplaySource)
    layout = parse_layout('ps,t,r:2,30,3,3')
    windower = StreamWindower(layout, fps=100.0)
    frames, _ = collect(replay, windower, 13, flush=False)
    assert_same_frames(frames, windower, capture_to_frames(read_csi_capture(ESP32), layout,
                                                           fps=100.0))
    with pytest.raises(ValueError, match="unknown CSI source 'tcp://x'"):
        open_source('tcp://x')
    with pytest.raises(ValueError, match='cannot follow'):
        FollowSource(str(tmp_path / 'x.dat'), fmt='atheros')
    assert StreamStats().get('x') == 0


@pytest.mark.parametrize('path', [INTEL, ESP32, NEXMON])
def test_replay_records_to_capture_file(path, tmp_path):
    """A replay tapped by CaptureWriter writes a capture that reads back equal."""
    from mmdensekd.datasets.csi_stream import CaptureWriter
    kwargs = dict(chip='4358', bw=80) if path == NEXMON else {}
    ref = read_csi_capture(path, **kwargs)
    source = open_source(f'replay:{path}?speed=1000')
    writer = CaptureWriter(str(tmp_path / 'rec'))
    source.set_tap(writer)
    got = []
    while not source.finished:
        got += source.read(0.05)
    writer.close()
    assert len(got) == len(ref) == writer.count
    np.testing.assert_array_equal(np.stack([p.csi for p in got]), ref.csi)
    np.testing.assert_array_equal([p.time for p in got], ref.timestamps)
    back = read_csi_capture(writer.path, **kwargs)
    np.testing.assert_array_equal(back.csi, ref.csi)
    np.testing.assert_array_equal(back.timestamps, ref.timestamps)
