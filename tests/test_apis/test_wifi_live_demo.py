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
from mmengine.structures import InstanceData
from wifi_demo_testing import FEW, INTEL, ROOT, WIFI_CFG

from mmdensekd.datasets.csi_capture import read_csi_capture
from mmdensekd.datasets.csi_stream import LiveCSIStream, UDPSource, capture_records, replay_records
from mmdensekd.datasets.csi_windowing import StreamWindower, capture_to_frames
from mmdensekd.structures import DensePoseChartResults


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_streamed_frames_give_the_file_demo_detections(live, demo, checkpoint):
    """Intel records over loopback UDP (x40) -> live student == file demo."""
    # the config's own proposals and decoding: what the file demo computes
    exact = ['--decoding', 'exact', '--proposals', '0']
    args = live.parse_args([WIFI_CFG, checkpoint, '--source', 'stdin:', '--no-channels-last']
                           + exact + FEW)
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
    # BatchNorm folded, channels-last (the demo's default) -> the same people
    args = live.parse_args([WIFI_CFG, checkpoint, '--source', 'stdin:'] + exact + FEW)
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


def _intel_frames(layout, n: int) -> list:
    cut = capture_to_frames(read_csi_capture(INTEL, antennas='majority'), layout, fps=1.0)
    return list(zip(cut.amplitude, cut.phase))[:n]


def test_fast_decoding_keeps_the_people(live, checkpoint):
    """--decoding fast: the same boxes and scores, charts at each box, keypoints in it."""
    built = {}
    for decoding in ('exact', 'fast'):
        args = live.parse_args([WIFI_CFG, checkpoint, '--source', 'stdin:', '--decoding',
                                decoding, '--proposals', '0'] + FEW)
        built[decoding] = live.build_live(args)
    exact, fast = built['exact'][2], built['fast'][2]
    assert exact.changed == {}
    assert fast.changed == {
        'detector.roi_head.densepose_predictor': "decoding='fast'",
        'detector.roi_head.keypoint_head.coder': "resize_mode='bilinear'"
    }
    assert fast.model.detector.roi_head.densepose_predictor.decoding == 'fast'
    assert exact.model.detector.roi_head.densepose_predictor.decoding == 'detectron2'
    for i, (amp, pha) in enumerate(_intel_frames(built['exact'][3], 3)):
        ref, got = exact(amp, pha, i + 1), fast(amp, pha, i + 1)
        assert len(got) == len(ref) == 3
        torch.testing.assert_close(got.bboxes, ref.bboxes)
        torch.testing.assert_close(got.scores, ref.scores)
        for box, labels, kpts in zip(got.bboxes, got.densepose.labels, got.keypoints):
            x0, y0, x1, y1 = box.tolist()
            assert tuple(labels.shape) == (max(int(y1 - y0), 1), max(int(x1 - x0), 1))
            assert (kpts[:, 0] >= x0 - 1).all() and (kpts[:, 0] <= x1 + 1).all()
            assert (kpts[:, 1] >= y0 - 1).all() and (kpts[:, 1] <= y1 + 1).all()
    with pytest.raises(ValueError, match='decoding must be one of'):
        live.LiveStudent(exact.model, built['exact'][1], decoding='approximate')


class _Frames:
    """A finished stream of frames (what Inference reads from LiveCSIStream)."""

    def __init__(self, frames):
        self.frames = list(frames)

    def get(self, timeout=0.1):
        return self.frames.pop(0) if self.frames else None

    @property
    def finished(self):
        return not self.frames


def test_two_workers_give_frames_in_order(live, checkpoint):
    """Two model workers (own model copies) hand out every frame, in order, with
    the detections one student gives."""
    from types import SimpleNamespace
    args = live.parse_args([WIFI_CFG, checkpoint, '--source', 'stdin:'] + FEW)
    _, _, student, layout = live.build_live(args)
    students = live.make_workers(student, 2)
    assert len(students) == 2 and students[1].model is not students[0].model
    assert students[1].model.detector.roi_head.densepose_predictor.decoding == 'fast'
    raw = _intel_frames(layout, 6)
    frames = [SimpleNamespace(amplitude=a, phase=p, index=i, arrival=0.0)
              for i, (a, p) in enumerate(raw)]
    infer = live.Inference(students, _Frames(frames)).start()
    got = []
    deadline = time.time() + 120
    while not infer.done and time.time() < deadline:
        item = infer.get(0.5)
        if item is not None:
            got.append(item)
    infer.stop()
    assert infer.error is None and infer.done
    assert [item[0].index for item in got] == list(range(6))
    for (frame, pred, wall, cpu), (amp, pha) in zip(got, raw):
        ref = student(amp, pha, frame.index + 1)
        torch.testing.assert_close(pred.bboxes, ref.bboxes)
        torch.testing.assert_close(pred.keypoints, ref.keypoints)
        assert wall > 0 and cpu > 0
    with pytest.raises(ValueError, match='--workers must be at least 1'):
        live.make_workers(student, 0)


def test_fast_painter_draws_parts_keypoints_and_box(live):
    """Part colours blended at each box's chart, the box outline, keypoints."""
    painter = live.FastPainter((60, 80), score_thr=0.5, alpha=0.5)
    inst = InstanceData()
    inst.bboxes = torch.tensor([[10., 5., 40., 45.], [50., 5., 70., 25.]])
    inst.scores = torch.tensor([0.9, 0.2])  # the second is below the threshold
    labels = torch.zeros(40, 30, dtype=torch.uint8)
    labels[10:20, 5:15] = 3
    inst.densepose = DensePoseChartResults([labels, torch.full((20, 20), 7, dtype=torch.uint8)],
                                           [torch.zeros(2, 40, 30), torch.zeros(2, 20, 20)])
    inst.keypoints = torch.tensor([[[20., 30.]] * 17, [[60., 15.]] * 17])
    inst.keypoint_scores = torch.tensor([[1.0] + [0.0] * 16, [1.0] * 17])
    img = painter(inst)
    assert img.shape == (60, 80, 3)
    expect = (painter.part_colors[3].astype(np.float64) * 0.5).round()
    np.testing.assert_allclose(img[5 + 15, 10 + 8], expect, atol=1)  # chart (row 15, col 8)
    assert (img[5 + 25, 10 + 20] == 0).all()  # background label, inside the box
    assert (img[5, 10:40] == (0, 255, 0)).all()  # top edge of the box
    assert tuple(img[30, 20]) == (0, 0, 255)  # the one confident keypoint
    assert not img[:, 50:].any()  # nothing of the low-scoring person
    assert not painter.background.any()  # the cached background stays black


def test_median_fps(live):
    """Median frames over the complete 1-second windows of a run."""
    times = list(np.arange(0, 3.55, 0.1))  # 10 frames/s for 3.5 s
    assert live.median_fps(times) == pytest.approx(10.0)
    assert live.median_fps([0.0, 0.5]) is None  # no complete window
    # windows from the first frame: 2, 4 and 3 frames; the last one incomplete
    times = [1.0, 1.2, 2.0, 2.1, 2.2, 2.3, 3.0, 3.1, 3.2, 4.0]
    assert live.median_fps(times) == pytest.approx(3.0)
