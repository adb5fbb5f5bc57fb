# Copyright (c) mmdensekd contributors. All rights reserved.
"""demo/wifi_live_demo.py: a tiny random-init CSI student on CSI streamed from
the real Intel 5300 capture (loopback UDP, a replay), its live page, and bad
input (malformed datagrams, a silent source)."""
import json
import os
import os.path as osp
import socket
import threading
import time
import urllib.request

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from wifi_demo_testing import FEW, INTEL, ROOT, WIFI_CFG

from mmdensekd.datasets.csi_stream import LiveCSIStream, UDPSource, capture_records, replay_records
from mmdensekd.datasets.csi_windowing import StreamWindower


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_streamed_frames_give_the_file_demo_detections(live, demo, checkpoint):
    """Intel records over loopback UDP (x40) -> live student == file demo."""
    args = live.parse_args([WIFI_CFG, checkpoint, '--source', 'stdin:', '--no-channels-last']
                           + FEW)
    model, cfg, student, layout = live.build_live(args)
    assert layout.name == 'mmfi'
    source = UDPSource('127.0.0.1', 0)
    windower = StreamWindower(layout, fps=1.0, source=source.name)
    stream = LiveCSIStream(source, windower, max_queue=0).start()
    _, records = capture_records(INTEL)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replay_records(records[:80], lambda d: sock.sendto(d, ('127.0.0.1', source.port)), 40.0)
    sock.close()
    deadline = time.time() + 10
    while windower.counts['packets'] < 80 and time.time() < deadline:
        time.sleep(0.05)
    stream.stop()
    frames = list(stream.frames) + windower.flush()
    assert len(frames) >= 5
    # the file demo: read the capture, cut it, run the config's pipeline
    dargs = demo.parse_args([WIFI_CFG, checkpoint, '--csi', INTEL, '--fps', '1', '--out', 'x']
                            + FEW)
    numbers, _, samples = demo.csi_frames(dargs, cfg, student.amp_shape)
    offline = dict(zip(numbers, samples))
    compared = 0
    for frame in frames[:-1]:  # the last window of the 80 packets is cut short
        ref = model.test_step(pseudo_collate([offline[frame.index + 1]]))[0].pred_instances
        got = student(frame.amplitude, frame.phase, frame.index + 1)
        assert len(ref) == len(got) == 3
        torch.testing.assert_close(got.bboxes, ref.bboxes)
        torch.testing.assert_close(got.scores, ref.scores)
        torch.testing.assert_close(got.keypoints, ref.keypoints)
        compared += 1
    assert compared >= 4
    # the demo's default: BatchNorm folded, channels-last -> the same people
    args = live.parse_args([WIFI_CFG, checkpoint, '--source', 'stdin:'] + FEW)
    _, _, fast, _ = live.build_live(args)
    assert any(p.dim() == 4 and not p.is_contiguous()
               and p.is_contiguous(memory_format=torch.channels_last)
               for p in fast.model.parameters())
    frame = frames[0]
    ref = student(frame.amplitude, frame.phase, frame.index + 1)
    got = fast(frame.amplitude, frame.phase, frame.index + 1)
    torch.testing.assert_close(got.bboxes, ref.bboxes, atol=0.05, rtol=1e-3)
    torch.testing.assert_close(got.scores, ref.scores, atol=1e-3, rtol=1e-3)


def test_live_page_during_replay(live, checkpoint, tmp_path):
    """The MJPEG page serves drawn frames and advancing counters; --out records."""
    port = _free_port()
    argv = [WIFI_CFG, checkpoint, '--source', f'replay:{INTEL}?speed=10', '--rate', '2',
            '--serve', str(port), '--duration', '6', '--out', str(tmp_path / 'rec')] + FEW
    result = {}
    thread = threading.Thread(target=lambda: result.update(live.main(argv)))
    thread.start()
    base = f'http://127.0.0.1:{port}'
    stats, jpeg = [], None
    deadline = time.time() + 60
    while time.time() < deadline and len(stats) < 2:
        try:
            s = json.loads(urllib.request.urlopen(base + '/stats.json', timeout=2).read())
        except OSError:
            time.sleep(0.2)
            continue
        if s.get('drawn', 0) and (not stats or s['drawn'] > stats[-1]['drawn']):
            stats.append(s)
            if jpeg is None:
                jpeg = urllib.request.urlopen(base + '/frame.jpg', timeout=2).read()
        time.sleep(0.3)
    page = urllib.request.urlopen(base + '/', timeout=2).read().decode()
    # one frame of the multipart MJPEG stream
    with urllib.request.urlopen(base + '/stream.mjpg', timeout=5) as r:
        assert r.headers['Content-Type'].startswith('multipart/x-mixed-replace')
        head = r.read(200)
    thread.join(60)
    assert not thread.is_alive()
    assert len(stats) == 2 and stats[1]['drawn'] > stats[0]['drawn']
    assert stats[1]['counts']['packets'] > stats[0]['counts']['packets'] > 0
    assert stats[0]['source'].startswith(f'replay:{INTEL}')
    assert '/stream.mjpg' in page and 'stats.json' in page
    assert b'--frame' in head and b'Content-Type: image/jpeg' in head
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (192, 288, 3)  # the MTN output size of the tiny config
    assert (img.max(axis=2) > 40).mean() > 0.002  # boxes / keypoints / status text
    assert result['frames'] >= 2 and result['latency_ms'] is not None
    assert len(os.listdir(tmp_path / 'rec')) == result['frames']


def test_live_demo_bad_input(live, checkpoint, capsys):
    """Malformed datagrams and a silent source: counted and named, no crash."""
    port = _free_port()
    argv = [WIFI_CFG, checkpoint, '--source', f'udp://127.0.0.1:{port}', '--rate', '1',
            '--stall-timeout', '0.5', '--duration', '2.5'] + FEW
    result = {}
    thread = threading.Thread(target=lambda: result.update(live.main(argv)))
    thread.start()
    deadline = time.time() + 30
    while time.time() < deadline:  # wait until the demo has bound the port
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(('127.0.0.1', port))
        except OSError:
            break
        finally:
            probe.close()
        time.sleep(0.05)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        sock.sendto(b'\x11\x11\x11\x11 not csi', ('127.0.0.1', port))
        sock.sendto(b'\x00' * 40, ('127.0.0.1', port))
        time.sleep(0.05)
    sock.close()
    thread.join(30)
    assert not thread.is_alive()
    counts = result['counts']
    assert result['frames'] == 0
    assert counts['malformed_datagrams'] >= 2 and counts['stalls'] >= 1
    assert "'stalls': 1" in capsys.readouterr().out  # the summary line names it
    with pytest.raises(ValueError, match="unknown CSI source 'tcp://x:1'"):
        live.main([WIFI_CFG, checkpoint, '--source', 'tcp://x:1'] + FEW)


@pytest.mark.parametrize('script, extra', [('wifi_live_demo.py', ['--source', 'replay:x.dat']),
                                           ('wifi_demo.py', ['--csi', 'x.dat', '--out', 'o'])])
def test_wifi_demos_missing_checkpoint_is_one_line(script, extra, tmp_path):
    """A missing checkpoint: exit 1 with one line naming it, no traceback."""
    import subprocess
    import sys
    missing = str(tmp_path / 'missing.pth')
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'demo', script), WIFI_CFG, missing]
                          + extra, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert f'{script}: error: FileNotFoundError' in proc.stderr and missing in proc.stderr
    assert 'Traceback' not in proc.stderr
