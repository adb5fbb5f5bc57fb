# Copyright (c) mmdensekd contributors. All rights reserved.
"""Frames/s of the live WiFi path (CSI frame -> student -> drawing) on this machine.

    python tools/analysis/benchmark_live.py CONFIG [CHECKPOINT] \
        [--frames 100] [--warmup 10] [--dtypes fp32 bf16] [--draw fast full] \
        [--capture tests/data/wifi_captures/sample_0x1_ap.dat] [--threads 0] [--seed 0]

Runs the path of ``demo/wifi_live_demo.py`` without a source: the frames are
cut from ``--capture`` with the offline converter's rules (cycled), each goes
through :class:`LiveStudent` (the config's CSI steps, the model's data
preprocessor, MTN and detector) and is drawn. Two figures per inference
dtype and painter:

* ``sequential``: one thread, frame after frame (model + drawing);
* ``pipelined``: the demo's arrangement, the model in one thread and the
  drawing in another (frames/s over the run, latency = model start to
  drawing end, median);
* CPU time per frame of the model and of the drawing (``time.thread_time``
  of the sequential run; with one torch thread it is the work a core does
  per frame, which other processes on a shared machine do not inflate as
  they inflate wall-clock times).

Without CHECKPOINT (or ``none``) the model keeps its random initialisation
(seeded): the timing of a trained model is the same, its detections are not
(fewer or more boxes to draw; ``--cfg-options
model.student.test_cfg.rcnn.score_thr=...`` changes that).
"""
import argparse
import os.path as osp
import sys
import threading
import time
from collections import deque
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'demo'))
from wifi_demo import wifi_student_config  # noqa: E402
from wifi_live_demo import FastPainter, LiveStudent  # noqa: E402

from mmdensekd.apis import init_model  # noqa: E402
from mmdensekd.datasets.csi_capture import read_csi_capture  # noqa: E402
from mmdensekd.datasets.csi_windowing import capture_to_frames  # noqa: E402
from mmdensekd.structures.csi_layout import layout_from_shape  # noqa: E402

DEFAULT_CAPTURE = osp.join(ROOT, 'tests', 'data', 'wifi_captures', 'sample_0x1_ap.dat')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='WiFi distillation config')
    parser.add_argument('checkpoint', nargs='?', default='none',
                        help="checkpoint, or 'none' for the seeded random initialisation")
    parser.add_argument('--frames', type=int, default=100, help='timed frames per setting')
    parser.add_argument('--warmup', type=int, default=10, help='untimed frames first')
    parser.add_argument('--dtypes', nargs='+', default=['fp32', 'bf16'],
                        choices=['fp32', 'bf16', 'fp16', 'none'],
                        help="inference dtypes ('none': the model as configured, no folding)")
    parser.add_argument('--draw', nargs='+', default=['fast'], choices=['fast', 'full'])
    parser.add_argument('--capture', default=DEFAULT_CAPTURE, help='CSI capture to cut')
    parser.add_argument('--fps', type=float, default=2.0, help='frame rate to cut it at')
    parser.add_argument('--score-thr', type=float, default=0.5)
    parser.add_argument('--proposals', type=int, help='RPN proposals per frame (default: config)')
    parser.add_argument('--channels-last', action=argparse.BooleanOptionalAction, default=True,
                        help='BatchNorm folded and channels-last convolutions, as the live demo')
    parser.add_argument('--sequential-only', action='store_true',
                        help='skip the pipelined run (large models)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (0: torch default; 1 as the live demo)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def build(args: argparse.Namespace, dtype: str):
    cfg = wifi_student_config(args.config, args.cfg_options)
    torch.manual_seed(args.seed)
    ckpt = None if args.checkpoint in ('none', 'random') else args.checkpoint
    model = init_model(cfg, ckpt, device=args.device,
                       inference_dtype=None if dtype == 'none' else dtype)
    if args.channels_last:
        from mmdensekd.models.layers import optimize_for_inference
        optimize_for_inference(model, fuse_bn=True, channels_last=True,
                               fast_roi_align=dtype != 'none')
    return model, cfg, LiveStudent(model, cfg, args.score_thr, args.proposals)


def make_painter(kind: str, args, model, student):
    if kind == 'fast':
        return FastPainter(student.canvas_shape, args.score_thr)
    import cv2
    from image_demo import build_visualizer
    ns = argparse.Namespace(vis_mode='parts', texture=None, alpha=0.6, kpt_thr=0.3,
                            no_bbox=False, no_keypoints=False)
    vis = build_visualizer(ns, model)
    blank = np.zeros(student.canvas_shape + (3, ), np.uint8)
    return lambda pred: cv2.cvtColor(vis.draw_instances(blank, pred, score_thr=args.score_thr),
                                     cv2.COLOR_RGB2BGR)


def run_sequential(student, paint, frames, n: int, warmup: int) -> dict:
    model_s, draw_s, dets = [], [], []
    for i in range(warmup):
        paint(student(*frames[i % len(frames)], i))
    model_cpu, draw_cpu = [], []
    start = time.perf_counter()
    for i in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        pred = student(*frames[i % len(frames)], i)
        t1, c1 = time.perf_counter(), time.thread_time()
        paint(pred)
        t2, c2 = time.perf_counter(), time.thread_time()
        model_s.append(t1 - t0)
        draw_s.append(t2 - t1)
        model_cpu.append(c1 - c0)
        draw_cpu.append(c2 - c1)
        dets.append(len(pred))
    wall = time.perf_counter() - start
    return dict(fps=n / wall, model_ms=1000 * np.median(model_s), dets=float(np.mean(dets)),
                model_cpu_ms=1000 * np.median(model_cpu), draw_cpu_ms=1000 * np.median(draw_cpu),
                draw_ms=1000 * np.median(draw_s), latency_ms=1000 * np.median(
                    np.add(model_s, draw_s)))


def run_pipelined(student, paint, frames, n: int, warmup: int) -> dict:
    for i in range(warmup):
        paint(student(*frames[i % len(frames)], i))
    results: deque = deque()
    cond = threading.Condition()

    def model_loop():
        for i in range(n):
            t0 = time.perf_counter()
            pred = student(*frames[i % len(frames)], i)
            with cond:
                while len(results) >= 2:  # the demo keeps at most two waiting
                    cond.wait()
                results.append((t0, pred))
                cond.notify_all()

    thread = threading.Thread(target=model_loop)
    latencies = []
    start = time.perf_counter()
    thread.start()
    for _ in range(n):
        with cond:
            while not results:
                cond.wait()
            t0, pred = results.popleft()
            cond.notify_all()
        paint(pred)
        latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    thread.join()
    return dict(fps=n / wall, latency_ms=1000 * np.median(latencies))


def main(argv: Optional[List[str]] = None) -> List[dict]:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    rows = []
    frames = None
    for dtype in args.dtypes:
        model, cfg, student = build(args, dtype)
        if frames is None:
            layout = layout_from_shape(student.amp_shape)
            cut = capture_to_frames(read_csi_capture(args.capture, antennas='majority'), layout,
                                    fps=args.fps)
            frames = list(zip(cut.amplitude, cut.phase))
            weights = f'random init (seed {args.seed})' if args.checkpoint in (
                'none', 'random') else args.checkpoint
            print(f'{len(frames)} {layout.name} frames of {args.capture}; model '
                  f'{type(model).__name__}, {weights}, {torch.get_num_threads()} torch '
                  f'threads, device {args.device}')
        for kind in args.draw:
            paint = make_painter(kind, args, model, student)
            seq = run_sequential(student, paint, frames, args.frames, args.warmup)
            pipe = dict(fps=float('nan'), latency_ms=float('nan')) if args.sequential_only \
                else run_pipelined(student, paint, frames, args.frames, args.warmup)
            row = dict(dtype=dtype, draw=kind, dets=seq['dets'], seq_fps=seq['fps'],
                       model_ms=seq['model_ms'],
                       draw_ms=seq['draw_ms'], seq_latency_ms=seq['latency_ms'],
                       pipe_fps=pipe['fps'], pipe_latency_ms=pipe['latency_ms'],
                       model_cpu_ms=seq['model_cpu_ms'], draw_cpu_ms=seq['draw_cpu_ms'])
            rows.append(row)
            print(f'dtype {dtype:4s} draw {kind:4s}, {row["dets"]:.1f} people/frame: model '
                  f'{row["model_ms"]:.1f} ms + draw '
                  f'{row["draw_ms"]:.1f} ms -> sequential {row["seq_fps"]:.1f} frames/s; '
                  f'pipelined {row["pipe_fps"]:.1f} frames/s (latency median '
                  f'{row["pipe_latency_ms"]:.0f} ms); CPU time per frame: model '
                  f'{row["model_cpu_ms"]:.1f} ms, draw {row["draw_cpu_ms"]:.1f} ms', flush=True)
    return rows


if __name__ == '__main__':
    main()
