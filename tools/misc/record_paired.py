# Copyright (c) mmdensekd contributors. All rights reserved.
"""Record a camera and a CSI source together, on one clock, for your own room.

    python tools/misc/record_paired.py --camera 0 \
        --source serial:///dev/ttyUSB0?baud=921600 --out data/my_room/session1 \
        [--duration 300] [--max-frames N] [--camera-fps 15] [--width 640 --height 480]

``--camera`` is an OpenCV device index or a video file (played in real time
at its frame rate, for tests and dry runs); ``--source`` any live CSI source
of :mod:`mmdensekd.datasets.csi_stream` whose raw packets can be recorded
(``udp://``, ``serial://``, ``stdin:``, ``follow:``, ``replay:`` of Intel
5300 / ESP32 / nexmon captures).

Both are stamped with this process's clock (``time.perf_counter``) when
they arrive; a straight line fitted through every CSI packet's (arrival,
capture clock) pair maps the camera frames onto the capture clock (it also
absorbs the NIC clock's drift, or a replay's speed-up). Writes into
``--out``:

* ``csi.dat`` / ``csi.csv`` / ``csi.pcap``: the raw capture, as the tool
  that made it would have written it;
* ``frames/frame_NNNNNN.jpg``: the camera frames;
* ``frame_timestamps.txt``: one capture-clock time per frame, for
  ``csi_capture_to_frames.py --frame-timestamps ... --absolute-times``;
* ``recording.json``: counts, the clock fit and the next commands.
"""
import argparse
import json
import os
import os.path as osp
import signal
import threading
import time
from typing import List, Optional

import cv2
import numpy as np

from mmdensekd.datasets.csi_stream import CaptureWriter, StreamStats, open_source

CONVERT = ('python tools/dataset_converters/csi_capture_to_frames.py {csi} --out {out}/paired '
           '--frame-timestamps {out}/frame_timestamps.txt --absolute-times --frames '
           '{out}/frames --layout person-in-wifi')
PSEUDO = ('python tools/misc/generate_pseudo_labels.py TEACHER_CONFIG TEACHER_CKPT --img-dir '
          '{out}/frames --ann-file {out}/paired/annotations/paired_skeleton.json --out '
          '{out}/paired/annotations/pseudo_train.json')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--camera', required=True, help='OpenCV device index or video file')
    parser.add_argument('--source', required=True, help='CSI source URI (see csi_stream)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--format', default='auto', help='format of follow:/replay: files')
    parser.add_argument('--chip', default='4358', help='nexmon chip')
    parser.add_argument('--duration', type=float, default=-1, help='seconds (-1: until the '
                        'video ends or Ctrl-C)')
    parser.add_argument('--max-frames', type=int, default=-1)
    parser.add_argument('--camera-fps', type=float, help='camera frame rate (a video file: '
                        'defaults to its own)')
    parser.add_argument('--width', type=int, help='camera frame width to request')
    parser.add_argument('--height', type=int, help='camera frame height to request')
    parser.add_argument('--stall-timeout', type=float, default=10.0,
                        help='seconds without CSI packets counted as a stall')
    parser.add_argument('--jpeg-quality', type=int, default=95)
    return parser.parse_args(argv)


class CSIRecorder:
    """Source thread: raw packets to a capture file, (arrival, time) pairs kept."""

    def __init__(self, source, prefix: str, stall_timeout: float) -> None:
        self.source = source
        self.writer = CaptureWriter(prefix)
        source.set_tap(self.writer)
        self.arrivals: List[float] = []
        self.times: List[float] = []
        self.stall_timeout = stall_timeout
        self.stop_event = threading.Event()
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, name='csi-recorder', daemon=True)

    def _run(self) -> None:
        last, stalled = time.perf_counter(), False
        try:
            while not self.stop_event.is_set() and not self.source.finished:
                packets = self.source.read(0.05)
                now = time.perf_counter()
                if packets:
                    last, stalled = now, False
                    for p in packets:
                        self.arrivals.append(p.arrival)
                        self.times.append(p.time)
                elif not stalled and now - last >= self.stall_timeout:
                    stalled = True
                    self.source.stats.count('stalls', f'{self.source.name}: no packets for '
                                            f'{now - last:.1f} s')
        except BaseException as err:
            self.error = err
        finally:
            self.writer.close()


def fit_clock(arrivals: np.ndarray, times: np.ndarray) -> dict:
    """Capture time ~ ``slope * host time + offset`` by least squares.

    Raises:
        ValueError: Fewer than 2 packets, or all at one host time.
    """
    if len(arrivals) < 2 or np.ptp(arrivals) <= 0:
        raise ValueError(f'{len(arrivals)} CSI packets recorded: too few to map the camera '
                         'onto the capture clock (is the CSI source sending?)')
    slope, offset = np.polyfit(arrivals - arrivals[0], times, 1)
    resid = times - (slope * (arrivals - arrivals[0]) + offset)
    return dict(slope=float(slope), offset=float(offset), host_t0=float(arrivals[0]),
                residual_ms_median=float(1000 * np.median(np.abs(resid))),
                residual_ms_max=float(1000 * np.max(np.abs(resid))))


def open_camera(spec: str, args: argparse.Namespace):
    """(VideoCapture, is a file, frame rate)."""
    is_file = not spec.isdigit()
    if is_file and not osp.isfile(spec):
        raise FileNotFoundError(f'--camera {spec} is neither a device index nor a video file')
    cap = cv2.VideoCapture(spec if is_file else int(spec))
    if not cap.isOpened():
        raise OSError(f'cannot open camera {spec}')
    if not is_file:
        if args.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, args.width)
        if args.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, args.height)
        if args.camera_fps:
            cap.set(cv2.CAP_PROP_FPS, args.camera_fps)
    fps = args.camera_fps or cap.get(cv2.CAP_PROP_FPS) or 0.0
    if is_file and fps <= 0:
        raise ValueError(f'--camera {spec}: the video has no frame rate; give --camera-fps')
    return cap, is_file, fps


def record(args: argparse.Namespace) -> dict:
    """Record; returns the summary written to ``recording.json``."""
    frames_dir = osp.join(args.out, 'frames')
    os.makedirs(frames_dir, exist_ok=True)
    cap, is_file, fps = open_camera(args.camera, args)
    source = open_source(args.source, args.format, args.chip, StreamStats(args.source))
    recorder = CSIRecorder(source, osp.join(args.out, 'csi'), args.stall_timeout)
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *a: stop.set())
    host_times: List[float] = []
    recorder.thread.start()
    start = time.perf_counter()
    try:
        while not stop.is_set():
            k = len(host_times)
            if 0 <= args.max_frames <= k:
                break
            if is_file:  # play the video in real time
                due = start + k / fps
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            ok, frame = cap.read()
            stamp = start + k / fps if is_file else time.perf_counter()
            if not ok:
                if is_file:
                    break
                source.stats.count('camera_errors', f'camera {args.camera}: read failed')
                if source.stats.get('camera_errors') > 50:
                    raise OSError(f'camera {args.camera}: 50 failed reads')
                continue
            path = osp.join(frames_dir, f'frame_{k + 1:06d}.jpg')
            if not cv2.imwrite(path, frame, [cv2.IMWRITE_JPEG_QUALITY, args.jpeg_quality]):
                raise OSError(f'cannot write {path}')
            host_times.append(stamp)
            if args.duration >= 0 and time.perf_counter() - start >= args.duration:
                break
            if recorder.error is not None:
                break
    except KeyboardInterrupt:
        pass
    finally:
        recorder.stop_event.set()
        recorder.thread.join(timeout=5.0)
        source.close()
        cap.release()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if recorder.error is not None:
        raise RuntimeError(f'CSI source {args.source} failed: {recorder.error}') from \
            recorder.error
    if not host_times:
        raise ValueError(f'no camera frame recorded from {args.camera}')
    clock = fit_clock(np.asarray(recorder.arrivals), np.asarray(recorder.times))
    frame_times = clock['slope'] * (np.asarray(host_times) - clock['host_t0']) + clock['offset']
    with open(osp.join(args.out, 'frame_timestamps.txt'), 'w') as f:
        f.write('# capture-clock time (s) of each frame in frames/, from record_paired.py\n')
        f.writelines(f'{t:.6f}\n' for t in frame_times)
    csi = recorder.writer.path
    summary = dict(
        camera=args.camera, source=args.source, csi_file=recorder.writer.path,
        csi_format=recorder.writer.fmt, num_packets=recorder.writer.count,
        num_frames=len(host_times), camera_fps=fps, clock=clock,
        counts=source.stats.snapshot(),
        frames_inside_capture=int(((frame_times >= recorder.times[0]) &
                                   (frame_times <= recorder.times[-1])).sum()),
        next=[CONVERT.format(csi=csi, out=args.out), PSEUDO.format(out=args.out)])
    with open(osp.join(args.out, 'recording.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(f'recorded {len(host_times)} frames and {recorder.writer.count} CSI packets '
          f'({recorder.writer.fmt}) to {args.out}; clock fit residual median '
          f'{clock["residual_ms_median"]:.1f} ms; counters {summary["counts"]}\nnext:\n  '
          + '\n  '.join(summary['next']))
    return summary


def main(argv: Optional[List[str]] = None) -> dict:
    return record(parse_args(argv))


if __name__ == '__main__':
    main()
