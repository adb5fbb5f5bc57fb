# Copyright (c) mmdensekd contributors. All rights reserved.
"""Frames/s, latency and CPU time per frame of the live WiFi path
(CSI packets -> frame -> student -> drawing -> JPEG) on this machine.

    python tools/analysis/benchmark_live.py CONFIG CHECKPOINT \\
        [--frames 40] [--dtypes fp32 bf16] [--workers 1 2] [--e2e-seconds 20] \\
        [--e2e-rate 30] [--capture tests/data/wifi_captures/sample_0x1_ap.dat] [--seed 0]

Two parts, both with the live demo's own code (``demo/wifi_live_demo.py``):

1. **Stages** (one thread, frame after frame, ``--frames`` frames cut from
   ``--capture`` with the offline converter's rules): the CPU time
   (``time.thread_time``, which other processes on a shared machine
   inflate far less than wall-clock time) of every stage of the student
   (data preprocessor, MTN, backbone, neck, RPN and RoI-head networks;
   ``other`` = proposals, NMS, chart / keypoint decoding, Python), of the
   drawing and of the JPEG encoding, for the config's test settings
   (``reference``: the config's proposals, exact decoding) and the live
   demo's (``live``: ``--proposals``, ``--decoding``), with how much their
   detections agree (same boxes; keypoint distance; DensePose part label
   agreement over the box pixels).
2. **End to end**: ``wifi_live_demo.main`` on a real-time replay of
   ``--capture`` (looped, sped up to offer ``--e2e-rate`` frames/s; the
   source thread, windowing, model workers, drawing, status text, JPEG of
   the ``--serve`` page on an ephemeral port) for ``--e2e-seconds`` per
   number of ``--workers``: frames/s over the run and its median over
   1-second windows, median latency (arrival of a window's newest packet
   to its drawing), and the process CPU time per drawn frame with the
   frames/s it allows on ``--cores`` idle cores.

CHECKPOINT ``none`` keeps the seeded random initialisation (timings of a
trained model differ: it draws people, so the DensePose and keypoint
branches run).
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'demo'))
import wifi_live_demo as live  # noqa: E402

from mmdensekd.datasets.csi_capture import read_csi_capture  # noqa: E402
from mmdensekd.datasets.csi_windowing import capture_to_frames  # noqa: E402

DEFAULT_CAPTURE = osp.join(ROOT, 'tests', 'data', 'wifi_captures', 'sample_0x1_ap.dat')
#: Modules timed as stages (by the last part of their name).
STAGES = ('data_preprocessor', 'mtn', 'student_mtn', 'backbone', 'neck', 'rpn_head',
          'bbox_roi_extractor', 'bbox_head', 'densepose_roi_extractor', 'densepose_head',
          'densepose_predictor', 'keypoint_roi_extractor', 'keypoint_head')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='WiFi distillation config')
    parser.add_argument('checkpoint', help="checkpoint, or 'none' for a seeded random init")
    parser.add_argument('--frames', type=int, default=40, help='timed frames per setting')
    parser.add_argument('--warmup', type=int, default=3, help='untimed frames first')
    parser.add_argument('--dtypes', nargs='+', default=['fp32', 'bf16'],
                        choices=['fp32', 'bf16', 'fp16'], help='inference dtypes (stages)')
    parser.add_argument('--decoding', default='fast', choices=live.LIVE_DECODINGS,
                        help="the live setting's decoding (the demo's default)")
    parser.add_argument('--proposals', type=int, default=live.DEFAULT_PROPOSALS,
                        help="the live setting's RPN proposals (the demo's default; 0: the "
                        "config's)")
    parser.add_argument('--score-thr', type=float, default=0.5)
    parser.add_argument('--capture', default=DEFAULT_CAPTURE, help='CSI capture to cut')
    parser.add_argument('--fps', type=float, default=2.0, help='frame rate to cut it at (stages)')
    parser.add_argument('--workers', type=int, nargs='*', default=[1, 2],
                        help='model workers of the end-to-end runs (none: skip them)')
    parser.add_argument('--e2e-dtype', default='fp32', choices=['fp32', 'bf16', 'fp16'])
    parser.add_argument('--e2e-seconds', type=float, default=20.0)
    parser.add_argument('--e2e-rate', type=float, default=30.0,
                        help='frames/s the replay offers (the demo drops what it cannot draw)')
    parser.add_argument('--cores', type=int, default=2,
                        help='idle cores the CPU-time figure is converted for')
    parser.add_argument('--threads', type=int, default=1, help='torch threads per worker')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def demo_argv(args: argparse.Namespace, dtype: str, proposals: int, decoding: str) -> list:
    argv = [args.config, args.checkpoint, '--inference-dtype', dtype, '--decoding', decoding,
            '--proposals', str(proposals), '--score-thr', str(args.score_thr), '--threads',
            str(args.threads), '--device', args.device]
    if args.cfg_options:
        argv += ['--cfg-options'] + [f'{k}={v!r}' if isinstance(v, str) else f'{k}={v}'
                                     for k, v in args.cfg_options.items()]
    return argv


class StageTimer:
    """CPU time of the stage modules of a model (forward hooks)."""

    def __init__(self, model) -> None:
        self.cpu: Dict[str, float] = {}
        self.start: Dict[str, float] = {}
        self.handles = []
        for name, module in model.named_modules():
            last = name.split('.')[-1]
            if last not in STAGES or (last == 'data_preprocessor' and '.' in name):
                continue
            self.handles.append(module.register_forward_pre_hook(self._enter(last)))
            self.handles.append(module.register_forward_hook(self._exit(last)))

    def _enter(self, name: str):
        def hook(module, args):
            self.start[name] = time.thread_time()
        return hook

    def _exit(self, name: str):
        def hook(module, args, output):
            self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - self.start[name]
        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def time_stages(student, paint, frames, n: int, warmup: int, quality: int = 70) -> dict:
    """Per-frame CPU ms of each stage, the model, drawing and JPEG; the predictions."""
    import cv2
    for i in range(warmup):
        paint(student(*frames[i % len(frames)], i))
    timer = StageTimer(student.model)
    model_cpu, draw_cpu, jpeg_cpu, preds = [], [], [], []
    for i in range(n):
        c0 = time.thread_time()
        pred = student(*frames[i % len(frames)], i)
        c1 = time.thread_time()
        img = paint(pred)
        live.put_status(img, live.status_lines({'packets': 1}, 25.0, 40.0, i, False))
        c2 = time.thread_time()
        cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        c3 = time.thread_time()
        model_cpu.append(c1 - c0)
        draw_cpu.append(c2 - c1)
        jpeg_cpu.append(c3 - c2)
        preds.append(pred)
    timer.remove()
    stages = {k: 1000 * v / n for k, v in timer.cpu.items()}
    model_ms = 1000 * float(np.mean(model_cpu))
    stages['other'] = model_ms - sum(stages.values())
    return dict(stages=stages, model_ms=model_ms, model_median_ms=1000 * np.median(model_cpu),
                draw_ms=1000 * np.median(draw_cpu), jpeg_ms=1000 * np.median(jpeg_cpu),
                dets=float(np.mean([len(p) for p in preds])), preds=preds)


def agreement(ref: list, got: list, box_tol: float = 0.5) -> dict:
    """How far ``got`` is from ``ref``: frames with the same people (as many
    boxes, none moved by more than ``box_tol`` pixels) and, on those, the
    keypoint distances and the DensePose part label agreement."""
    same, box, kpt, lab, frames = 0, [], [], [], len(ref)
    for a, b in zip(ref, got):
        if len(a) != len(b):
            continue
        bd = (a.bboxes - b.bboxes).abs().max().item() if len(a) else 0.0
        box.append(bd)
        if bd > box_tol:
            continue
        same += 1
        if 'keypoints' in a and len(a):
            kpt.extend((a.keypoints - b.keypoints).norm(dim=-1).flatten().tolist())
        if 'densepose' in a and len(a):
            for la, lb in zip(a.densepose.labels, b.densepose.labels):
                if la.shape == lb.shape:
                    lab.append((la == lb).float().mean().item())
    return dict(same_boxes=same, frames=frames, box_max=max(box) if box else None,
                kpt_median=float(np.median(kpt)) if kpt else None,
                kpt_p90=float(np.percentile(kpt, 90)) if kpt else None,
                label_mean=float(np.mean(lab)) if lab else None,
                label_min=float(np.min(lab)) if lab else None)


def run_stages(args: argparse.Namespace, frames: list) -> List[dict]:
    rows = []
    for dtype in args.dtypes:
        settings = dict(reference=(0, 'exact'), live=(args.proposals, args.decoding))
        results = {}
        for name, (proposals, decoding) in settings.items():
            torch.manual_seed(args.seed)
            largs = live.parse_args(demo_argv(args, dtype, proposals, decoding)
                                    + ['--source', 'stdin:'])
            model, _, student, _ = live.build_live(largs)
            paint = live.FastPainter(student.canvas_shape, args.score_thr)
            res = time_stages(student, paint, frames, args.frames, args.warmup)
            results[name] = res
            stages = ', '.join(f'{k} {v:.1f}' for k, v in res['stages'].items())
            print(f'[stages] {dtype} {name:9s} (proposals {proposals or "config"}, decoding '
                  f'{decoding}), {res["dets"]:.1f} people/frame: CPU ms per frame: model '
                  f'{res["model_ms"]:.1f} ({stages}); drawing {res["draw_ms"]:.2f}, JPEG '
                  f'{res["jpeg_ms"]:.2f}', flush=True)
            rows.append(dict(part='stages', dtype=dtype, setting=name, proposals=proposals,
                             decoding=decoding, **{k: v for k, v in res.items()
                                                   if k != 'preds'}))
        agree = agreement(results['reference']['preds'], results['live']['preds'])
        rows[-1]['agreement'] = agree

        def fmt(v, spec):
            return 'n/a' if v is None else format(v, spec)

        print(f'[stages] {dtype} live vs reference: same boxes on {agree["same_boxes"]}/'
              f'{agree["frames"]} frames; keypoints moved median {fmt(agree["kpt_median"], ".2f")}'
              f' px (90th percentile {fmt(agree["kpt_p90"], ".2f")}); DensePose part labels '
              f'agree on {fmt(agree["label_mean"], ".1%")} of box pixels (worst box '
              f'{fmt(agree["label_min"], ".1%")}); model CPU {results["live"]["model_ms"]:.1f}'
              f' vs {results["reference"]["model_ms"]:.1f} ms', flush=True)
    return rows


def run_end_to_end(args: argparse.Namespace, packet_rate: float, packets: int) -> List[dict]:
    # frames of `packets` packets every 0.8 window (one packet shared), sped up
    # to offer --e2e-rate frames per second
    window = packets / packet_rate
    rate = 1.25 / window
    speed = args.e2e_rate / rate
    source = f'replay:{args.capture}?speed={speed:.4g}&loop=1'
    rows = []
    for workers in args.workers:
        argv = demo_argv(args, args.e2e_dtype, args.proposals, args.decoding) + [
            '--source', source, '--rate', f'{rate:.6g}', '--window', f'{window:.6g}',
            '--duration', str(args.e2e_seconds), '--serve', '0', '--workers', str(workers)]
        print(f'[end to end] {workers} worker(s): python demo/wifi_live_demo.py '
              + ' '.join(argv), flush=True)
        s = live.main(argv)
        implied = live.idle_fps(s, args.cores)
        print(f'[end to end] {args.e2e_dtype}, {workers} worker(s), offered '
              f'{args.e2e_rate:.0f} frames/s: {s["fps"]:.1f} frames/s over {s["seconds"]:.0f} '
              f's (median {s["fps_median"] or 0:.1f} per second), median latency '
              f'{s["latency_ms"] or 0:.0f} ms; CPU per frame: model {s["model_cpu_ms"] or 0:.1f}'
              f' ms, drawing + JPEG {s["draw_cpu_ms"] or 0:.1f} ms, source '
              f'{s["source_cpu_ms"] or 0:.1f} ms -> at most {implied or 0:.1f} frames/s on '
              f'{args.cores} idle cores (process CPU per drawn frame '
              f'{s["cpu_ms_per_frame"] or 0:.1f} ms)', flush=True)
        rows.append(dict(part='end_to_end', implied_fps=implied,
                         **{k: v for k, v in s.items() if k != 'counts'}))
    return rows


def main(argv: Optional[List[str]] = None) -> List[dict]:
    args = parse_args(argv)
    torch.set_flush_denormal(True)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    largs = live.parse_args(demo_argv(args, 'fp32', args.proposals, args.decoding)
                            + ['--source', 'stdin:'])
    cfg = live.wifi_student_config(largs.config, largs.cfg_options)
    amp_shape, _ = live.csi_model_shapes(cfg)
    layout = live.layout_from_shape(amp_shape)
    capture = read_csi_capture(args.capture, antennas='majority')
    cut = capture_to_frames(capture, layout, fps=args.fps)
    frames = list(zip(cut.amplitude, cut.phase))
    packet_rate = 1.0 / float(np.median(np.diff(capture.timestamps)))
    print(f'{len(frames)} {layout.name} frames of {args.capture} ({packet_rate:.1f} packets/s); '
          f'checkpoint {args.checkpoint}; {args.threads} torch thread(s) per worker; '
          f'{os.cpu_count()} CPUs, load average '
          f'{", ".join(f"{x:.1f}" for x in os.getloadavg())}', flush=True)
    rows = run_stages(args, frames) if args.frames > 0 else []
    rows += run_end_to_end(args, packet_rate, layout.num_packets)
    return rows


if __name__ == '__main__':
    main()
