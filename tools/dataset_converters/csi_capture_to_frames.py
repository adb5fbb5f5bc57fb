# Copyright (c) mmdensekd contributors. All rights reserved.
"""Cut a raw WiFi CSI capture into per-frame ``.mat`` files (and a paired skeleton).

    python tools/dataset_converters/csi_capture_to_frames.py CAPTURE --out DIR \
        (--fps F | --frame-timestamps FILE) \
        [--format auto|intel5300|atheros|nexmon|esp32|picoscenes] \
        [--layout person-in-wifi|mmfi|AXES:P,S,T,R] [--packets-per-frame P] \
        [--frames FRAME_DIR] [--min-packets N] [--fill linear|nearest] [--debug]

Writes ``DIR/csi/frame_NNNNNN.mat`` (``CSIamp`` and ``CSIphase`` in the
layout's shape, which ``LoadCSIFromFile`` reads, plus ``packet_times``,
``packet_valid`` and ``frame_time``) and ``DIR/index.json`` (frame ->
file, skipped frames, counts). Frames are numbered from 1.

Frame times: ``--fps F`` puts frame ``k`` (from 1) at ``(k - 0.5) / F``
seconds after the first packet, its window covering ``1 / F``;
``--frame-timestamps FILE`` gives one time per frame (seconds after the
first packet, or on the capture's clock with ``--absolute-times``).
``--time-offset`` shifts the camera times against the capture.

With ``--frames FRAME_DIR`` (the video frames as images, sorted by name,
one per frame time) it also writes ``DIR/annotations/paired_skeleton.json``:
COCO ``images`` with ``file_name`` (relative to FRAME_DIR) and ``csi_file``
(relative to DIR), no annotations. Fill it from a teacher, then train on
it with ``PairedWiFiDensePoseDataset`` (``data_prefix=dict(img=FRAME_DIR,
csi=DIR)``)::

    python tools/misc/generate_pseudo_labels.py TEACHER_CFG TEACHER_CKPT \
        --img-dir FRAME_DIR --ann-file DIR/annotations/paired_skeleton.json \
        --out DIR/annotations/paired_train.json
"""
import argparse
import json
import logging
import math
import os
import os.path as osp
from typing import List, Optional

import numpy as np
import scipy.io
from mmengine.logging import print_log

from mmdensekd.datasets.coco_keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON
from mmdensekd.datasets.csi_capture import CAPTURE_FORMATS, detect_format, read_csi_capture
from mmdensekd.datasets.csi_stats import CSI_STATS_KEY, csi_stats_of_files
from mmdensekd.datasets.csi_windowing import capture_to_frames
from mmdensekd.structures.csi_layout import parse_layout

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Raw CSI capture -> per-frame .mat files')
    parser.add_argument('capture', help='CSI capture file')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--format', default='auto', choices=('auto', ) + CAPTURE_FORMATS)
    timing = parser.add_mutually_exclusive_group(required=True)
    timing.add_argument('--fps', type=float, help='video frame rate')
    timing.add_argument('--frame-timestamps', help='text file, one frame time (s) per line')
    parser.add_argument('--absolute-times', action='store_true',
                        help='frame timestamps are on the capture clock, not after its start')
    parser.add_argument('--time-offset', type=float, default=0.0,
                        help='seconds added to every frame time')
    parser.add_argument('--window', type=float, help='window length in s (default: frame period)')
    parser.add_argument('--layout', default='person-in-wifi',
                        help="'person-in-wifi', 'mmfi' or 'AXES:P,S,T,R' e.g. 'ps,t,r:5,30,3,3'")
    parser.add_argument('--packets-per-frame', type=int, help='overrides the layout P')
    parser.add_argument('--min-packets', type=int,
                        help='fewer real packets skip a frame (default: ceil(P / 2))')
    parser.add_argument('--fill', default='linear', choices=('linear', 'nearest'),
                        help='how dropped packets are filled (always flagged and counted)')
    parser.add_argument('--subcarriers', default='interpolate', choices=('interpolate', 'exact'))
    parser.add_argument('--max-upsample', type=float, default=4.0)
    parser.add_argument('--antenna-fill', default='repeat', choices=('repeat', 'zero', 'error'))
    parser.add_argument('--amplitude', default='auto', choices=('auto', 'linear', 'db'),
                        help='auto: dB for the mmfi layout (as MM-Fi), else linear |h|')
    parser.add_argument('--keep-null-subcarriers', action='store_true')
    parser.add_argument('--antennas', default='error',
                        help="mixed Nrx/Ntx: 'error', 'majority' or 'NRX,NTX'")
    parser.add_argument('--backwards', default='error', choices=('error', 'drop'),
                        help='timestamps going backwards: error or drop the packets')
    parser.add_argument('--allow-truncated', action='store_true',
                        help='keep the complete packets of a truncated capture')
    parser.add_argument('--chip', default='4358', help='nexmon chip')
    parser.add_argument('--bw', type=int, default=80, help='nexmon bandwidth (MHz)')
    parser.add_argument('--frames', help='folder of the video frames (images) to pair')
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error instead of one line')
    return parser.parse_args(argv)


def read_frame_timestamps(path: str) -> np.ndarray:
    """Read one frame time (seconds) per line; ``#`` starts a comment.

    Raises:
        ValueError: A line is not a number or times go backwards (the message
            names the file and line).
    """
    times: List[float] = []
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            text = line.split('#', 1)[0].strip().split(',')[0].strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError as err:
                raise ValueError(f'frame timestamps {path}, line {lineno}: {text!r} is not '
                                 'a number') from err
            if not math.isfinite(value):
                raise ValueError(f'frame timestamps {path}, line {lineno}: {text!r}')
            if times and value < times[-1]:
                raise ValueError(f'frame timestamps {path} go backwards at line {lineno}: '
                                 f'{value} < {times[-1]}')
            times.append(value)
    if not times:
        raise ValueError(f'frame timestamps {path} hold no time')
    return np.asarray(times, np.float64)


def resolved_amplitude(amplitude: str, layout_name: str) -> str:
    """The amplitude scale that ``amplitude='auto'`` stands for."""
    if amplitude != 'auto':
        return amplitude
    return 'db' if layout_name == 'mmfi' else 'linear'


def list_frames(frames_dir: str) -> List[str]:
    """Image files under ``frames_dir`` (recursive), relative, sorted."""
    if not osp.isdir(frames_dir):
        raise FileNotFoundError(f'--frames {frames_dir} is not a directory')
    names = sorted(
        osp.relpath(osp.join(d, n), frames_dir).replace(os.sep, '/')
        for d, _, files in os.walk(frames_dir) for n in files if n.lower().endswith(IMG_EXTS))
    if not names:
        raise FileNotFoundError(f'no images ({IMG_EXTS}) under --frames {frames_dir}')
    return names


def _frame_times(args, capture, frames: Optional[List[str]]) -> Optional[np.ndarray]:
    """Frame times on the capture clock, or None to let ``--fps`` tile the capture."""
    if args.frame_timestamps:
        times = read_frame_timestamps(args.frame_timestamps)
        if frames is not None and len(frames) != len(times):
            raise ValueError(f'--frame-timestamps {args.frame_timestamps} has {len(times)} '
                             f'times but --frames {args.frames} has {len(frames)} images')
    elif frames is not None:
        times = (np.arange(len(frames)) + 0.5) / args.fps
    elif args.time_offset:
        span = capture.timestamps[-1] - capture.timestamps[0] - args.time_offset
        times = (np.arange(max(int(np.floor(span * args.fps + 1e-9)), 0)) + 0.5) / args.fps
    else:
        return None
    start = 0.0 if args.absolute_times else capture.timestamps[0]
    return times + start + args.time_offset


def convert(args: argparse.Namespace) -> dict:
    """Run the conversion; returns the index written to ``--out/index.json``."""
    antennas = args.antennas
    if antennas not in ('error', 'majority'):
        try:
            antennas = tuple(int(v) for v in antennas.split(','))
        except ValueError as err:
            raise ValueError(f"--antennas must be 'error', 'majority' or 'NRX,NTX', got "
                             f'{args.antennas!r}') from err
    fmt = args.format
    if fmt == 'auto' and osp.isfile(args.capture) and osp.getsize(args.capture):
        fmt = detect_format(args.capture)
    reader_kwargs = dict(chip=args.chip, bw=args.bw) if fmt == 'nexmon' else {}
    capture = read_csi_capture(args.capture, fmt, antennas=antennas,
                               backwards=args.backwards, allow_truncated=args.allow_truncated,
                               **reader_kwargs)
    layout = parse_layout(args.layout, args.packets_per_frame)
    frames = list_frames(args.frames) if args.frames else None
    result = capture_to_frames(
        capture, layout, fps=args.fps, frame_times=_frame_times(args, capture, frames),
        window=args.window or (1.0 / args.fps if args.fps else None),
        min_packets=args.min_packets, fill=args.fill,
        drop_null=not args.keep_null_subcarriers, subcarriers=args.subcarriers,
        max_upsample=args.max_upsample, antenna_fill=args.antenna_fill,
        amplitude=args.amplitude)
    win = result.windows
    csi_dir = osp.join(args.out, 'csi')
    os.makedirs(csi_dir, exist_ok=True)
    entries = []
    for i, k in enumerate(win.frames.tolist()):
        rel = f'csi/frame_{k + 1:06d}.mat'
        scipy.io.savemat(
            osp.join(args.out, rel),
            dict(CSIamp=result.amplitude[i], CSIphase=result.phase[i],
                 packet_times=win.packet_times[i], packet_valid=win.valid[i].astype(np.uint8),
                 frame_time=float(win.times[i]), frame_index=k + 1),
            do_compression=True)
        entries.append(dict(frame=k + 1, time=float(win.times[i]), file=rel,
                            num_filled=int((~win.valid[i]).sum())))
    skipped = [k + 1 for k in win.skipped]
    stats = dict(num_packets=len(capture), num_wraps=capture.num_wraps,
                 num_dropped_by_counter=capture.num_dropped,
                 num_missing_by_timing=result.num_timing_gaps, removed=capture.removed,
                 null_subcarriers_dropped=result.null_subcarriers,
                 packet_rate_hz=round(result.packet_rate, 3), num_frames=result.num_frames,
                 num_written=len(entries), num_skipped=len(skipped),
                 num_filled_packets=win.num_filled)
    index = dict(capture=osp.abspath(args.capture), format=capture.format,
                 layout=dict(name=layout.name, shape=list(layout.shape), axes=list(layout.axes),
                             packets=layout.num_packets, subcarriers=layout.num_subcarriers,
                             tx=layout.num_tx, rx=layout.num_rx),
                 amplitude=resolved_amplitude(args.amplitude, layout.name),
                 keys=dict(amplitude='CSIamp', phase='CSIphase'),
                 stats=stats, frames=entries, skipped_frames=skipped)
    if entries:  # normalisation statistics of what the paired pipeline feeds the model
        index[CSI_STATS_KEY] = csi_stats_of_files(
            [osp.join(args.out, e['file']) for e in entries],
            load=dict(expected_shape=tuple(layout.shape)), sanitize=layout.sanitize_kwargs())
    with open(osp.join(args.out, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    if skipped:
        print_log(f'{args.capture}: skipped {len(skipped)} of {result.num_frames} frames with '
                  f'fewer than the minimum packets (frames {skipped[:20]}'
                  f'{"..." if len(skipped) > 20 else ""})', logger='current',
                  level=logging.WARNING)
    if win.num_filled:
        print_log(f'{args.capture}: filled {win.num_filled} dropped packet slots '
                  f'({args.fill}); flagged in packet_valid', logger='current',
                  level=logging.WARNING)
    if frames is not None:
        index['skeleton'] = write_skeleton(args, frames, entries)
    print(f'{args.capture} ({capture.format}, {len(capture)} packets, '
          f'{result.packet_rate:.1f} Hz): wrote {len(entries)} of {result.num_frames} frames '
          f'{layout.name} {tuple(layout.shape)} to {csi_dir}; skipped {len(skipped)}, filled '
          f'{win.num_filled} packets, clock wraps {capture.num_wraps}, counter drops '
          f'{capture.num_dropped}, timing gaps {result.num_timing_gaps}')
    return index


def write_skeleton(args: argparse.Namespace, frames: List[str], entries: List[dict]) -> str:
    """Write the paired COCO skeleton (images + CSI references); returns its path."""
    import cv2
    images = []
    for entry in entries:
        name = frames[entry['frame'] - 1]
        img = cv2.imread(osp.join(args.frames, name), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f'cannot read frame image {osp.join(args.frames, name)} '
                             f"(frame {entry['frame']})")
        images.append(dict(id=entry['frame'], file_name=name, csi_file=entry['file'],
                           height=int(img.shape[0]), width=int(img.shape[1]),
                           frame_time=entry['time']))
    skeleton = dict(
        info=dict(description=f'paired WiFi/camera skeleton of {osp.basename(args.capture)}; '
                  'annotations to be filled by tools/misc/generate_pseudo_labels.py'),
        images=images, annotations=[],
        categories=[dict(id=1, name='person', supercategory='person',
                         keypoints=list(COCO_KEYPOINT_NAMES),
                         skeleton=[[a + 1, b + 1] for a, b in COCO_SKELETON])])
    path = osp.join(args.out, 'annotations', 'paired_skeleton.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(skeleton, f)
    unpaired = len(frames) - len(images)
    print(f'paired skeleton: {len(images)} frames of {args.frames} with CSI -> {path}'
          + (f' ({unpaired} frames without CSI left out)' if unpaired else ''))
    return path


def main(argv: Optional[List[str]] = None) -> dict:
    return convert(parse_args(argv))


def cli(argv: Optional[List[str]] = None) -> None:
    """Command-line entry: an error is one line naming the file (and, where one
    helps, the flag to use) with exit status 1; ``--debug`` shows the traceback."""
    args = parse_args(argv)
    try:
        convert(args)
    except (ValueError, OSError, KeyError) as err:
        if args.debug:
            raise
        raise SystemExit(f'csi_capture_to_frames.py: error: {err} (--debug shows the '
                         'traceback)') from None


if __name__ == '__main__':
    cli()
