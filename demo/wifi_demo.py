# Copyright (c) mmdensekd contributors. All rights reserved.
"""WiFi DensePose demo: a CSI student draws people from a WiFi recording.

Example::

    python demo/wifi_demo.py \
        configs/distill/kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py \
        work_dirs/tiny_distill/student/iter_60.pth \
        --csi capture.dat [--format intel5300] [--fps 1] \
        [--video frames_dir_or.mp4] --out wifi_demo.mp4

``--csi`` is a raw capture (any format of
:mod:`mmdensekd.datasets.csi_capture`, cut into frames in the layout of the
config's MTN, ``--fps`` defaulting to packet rate / packets per frame) or a
folder of per-frame ``.mat`` files (written by
``tools/dataset_converters/csi_capture_to_frames.py``; its ``index.json``
gives frame numbers and times, else the files are taken sorted). Only the CSI
reaches the model: the camera frames of ``--video`` (images folder or video
file, frame ``k`` for CSI frame ``k``) are only drawn beside the predictions,
which are drawn on a blank canvas of the MTN output size. ``--out`` is a
video file (``.mp4``/``.avi``) or a folder of ``.jpg`` drawings.
"""
import json
import os
import os.path as osp
import sys
import time
from argparse import ArgumentParser, Namespace
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from image_demo import add_common_args, build_visualizer, cli  # noqa: E402

from mmdensekd.apis import init_model  # noqa: E402
from mmdensekd.datasets.csi_capture import CAPTURE_FORMATS, read_csi_capture  # noqa: E402
from mmdensekd.datasets.csi_windowing import capture_to_frames  # noqa: E402
from mmdensekd.registry import TRANSFORMS  # noqa: E402
from mmdensekd.structures.csi_layout import layout_from_shape, parse_layout  # noqa: E402

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')
VIDEO_EXTS = ('.mp4', '.avi')
CSI_STEPS = ('LoadCSIFromFile', 'CSIPhaseSanitize', 'PackCSI')


def parse_args(argv: Optional[List[str]] = None) -> Namespace:
    parser = add_common_args(ArgumentParser(description=__doc__.split('\n')[0]))
    parser.add_argument('--csi', required=True, help='CSI capture file or folder of .mat frames')
    parser.add_argument('--video', help='camera frames (folder of images or a video file)')
    parser.add_argument('--out', required=True, help='output video (.mp4/.avi) or folder')
    parser.add_argument('--format', default='auto', choices=('auto', ) + CAPTURE_FORMATS)
    parser.add_argument('--fps', type=float, help='frame rate used to cut a capture')
    parser.add_argument('--layout', help='CSI layout (default: from the MTN input shape)')
    parser.add_argument('--antennas', default='majority',
                        help="mixed Nrx/Ntx in a capture: 'error', 'majority' or 'NRX,NTX'")
    parser.add_argument('--amplitude', default='auto', choices=('auto', 'linear', 'db'),
                        help='amplitude scale of a cut capture (auto: dB for mmfi)')
    parser.add_argument('--max-frames', type=int, default=-1, help='-1: all frames')
    parser.add_argument('--fourcc', default='mp4v', help='FourCC of the output video')
    return parser.parse_args(argv)


def _is_csi_detector(model_cfg) -> bool:
    return isinstance(model_cfg, dict) and str(model_cfg.get('type', '')).split('.')[-1] == \
        'CSIDetector'


def wifi_student_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """The config of a WiFi student prepared for CSI-only inference.

    A distillation config whose student is a ``CSIDetector`` (MTN +
    detector) becomes the student's own config
    (:func:`mmdensekd.apis.student_config`; the distillation checkpoint's
    ``student.`` weights load into it); an older distiller config with
    ``model.student_mtn`` is kept whole, its teachers not loaded (the
    checkpoint holds the whole distiller). CSI-only batches get the MTN
    output size as their image frame when the config sets no
    ``csi_image_shape``.

    Raises:
        ValueError: The config's model has no CSI student.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    student = cfg.model.get('student')
    if _is_csi_detector(student) or _is_csi_detector(cfg.model):
        from mmdensekd.apis import student_config
        cfg = student_config(cfg)
        mtn = cfg.model.mtn
    else:
        mtn = cfg.model.get('student_mtn')
        if mtn is None or cfg.model.get('student_input_key') != 'csi':
            raise ValueError(f'{config}: the model has no CSI student (a CSIDetector student, '
                             "or model.student_mtn and student_input_key='csi'); use a WiFi "
                             'distillation config')
        cfg.model.teacher_ckpt = None
        cfg.model.allow_uninitialized_teacher = True
        for extra in cfg.model.get('extra_teachers') or []:
            extra['ckpt'] = None
    preproc = cfg.model.data_preprocessor
    if preproc.get('csi_image_shape') is None:
        out_size = mtn.get('out_size', (720, 1280))
        preproc.csi_image_shape = (out_size, out_size) if isinstance(out_size, int) else \
            tuple(out_size)
    return cfg


def csi_model_shapes(cfg: Config) -> Tuple[Tuple[int, ...], Tuple[int, int]]:
    """(MTN input shape, drawing canvas (H, W)) of :func:`wifi_student_config`'s config."""
    mtn = cfg.model.mtn if _is_csi_detector(cfg.model) else cfg.model.student_mtn
    return tuple(mtn.get('amp_shape', (3, 114, 10))), \
        tuple(cfg.model.data_preprocessor.csi_image_shape)


def _build_model(args: Namespace):
    cfg = wifi_student_config(args.config, args.cfg_options)
    model = init_model(cfg, args.checkpoint, device=args.device,
                       inference_dtype=args.inference_dtype)
    return (model, cfg) + csi_model_shapes(cfg)


def _pipelines(cfg: Config) -> Tuple[Compose, Compose]:
    """(full CSI pipeline from a .mat file, the same without the loader)."""
    test = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline') or \
        cfg.get('test_pipeline')
    steps = [dict(t) for t in test or [] if str(t['type']).split('.')[-1] in CSI_STEPS]
    if not steps or steps[0]['type'].split('.')[-1] != 'LoadCSIFromFile':
        raise ValueError('the config test pipeline has no LoadCSIFromFile step')
    pack = dict(type='PackDensePoseInputs', meta_keys=('img_id', 'csi_path'))
    full = Compose([TRANSFORMS.build(t) for t in steps + [pack]])
    return full, Compose([TRANSFORMS.build(t) for t in steps[1:] + [pack]])


def csi_frames(args: Namespace, cfg: Config,
               amp_shape: Tuple[int, ...]) -> Tuple[list, float, Iterator]:
    """(frame numbers, frame rate, iterator of pipeline outputs) of ``--csi``."""
    full, after_load = _pipelines(cfg)
    if osp.isdir(args.csi):
        index, fps = osp.join(args.csi, 'index.json'), args.fps or 10.0
        if osp.isfile(index):
            with open(index) as f:
                entries = json.load(f)['frames']
            files = [(e['frame'], osp.join(args.csi, e['file'])) for e in entries]
            if args.fps is None and len(entries) > 1:  # frame period of the converter
                steps = np.diff([e['time'] for e in entries]) / np.diff(
                    [e['frame'] for e in entries])
                fps = 1.0 / float(np.median(steps)) if np.median(steps) > 0 else fps
        else:
            names = sorted(n for n in os.listdir(args.csi) if n.endswith('.mat'))
            files = [(i + 1, osp.join(args.csi, n)) for i, n in enumerate(names)]
        if not files:
            raise FileNotFoundError(f'no .mat CSI frames in {args.csi}')
        if args.max_frames >= 0:
            files = files[:args.max_frames]
        gen = (full(dict(csi_path=p, img_id=k)) for k, p in files)
        return [k for k, _ in files], fps, gen
    if not osp.isfile(args.csi):
        raise FileNotFoundError(f'--csi {args.csi} is neither a capture file nor a folder')
    antennas = args.antennas if args.antennas in ('error', 'majority') else tuple(
        int(v) for v in args.antennas.split(','))
    capture = read_csi_capture(args.csi, args.format, antennas=antennas)
    layout = parse_layout(args.layout) if args.layout else layout_from_shape(amp_shape)
    if layout.shape != tuple(amp_shape):
        raise ValueError(f'--layout {layout.name} gives {layout.shape} but the MTN takes '
                         f'{tuple(amp_shape)}')
    frames = capture_to_frames(capture, layout, fps=args.fps, amplitude=args.amplitude)
    fps = args.fps or frames.packet_rate / layout.num_packets
    numbers = (frames.windows.frames + 1).tolist()
    count = len(numbers) if args.max_frames < 0 else min(args.max_frames, len(numbers))
    print(f'{args.csi}: {capture.format}, {len(capture)} packets -> {len(numbers)} '
          f'{layout.name} frames at {fps:.2f} fps ({len(frames.windows.skipped)} skipped, '
          f'{frames.windows.num_filled} dropped packets filled)')
    gen = (after_load(dict(csi_amplitude=frames.amplitude[i], csi_phase=frames.phase[i],
                           csi_shape=layout.shape, csi_path=f'{args.csi}#frame{numbers[i]}',
                           img_id=numbers[i])) for i in range(count))
    return numbers[:count], fps, gen


class CameraFrames:
    """Random-ish access (increasing indices) to a folder of images or a video."""

    def __init__(self, path: str) -> None:
        self.path = path
        if osp.isdir(path):
            self.files = sorted(osp.join(path, n) for n in os.listdir(path)
                                if n.lower().endswith(IMG_EXTS))
            if not self.files:
                raise FileNotFoundError(f'no images ({IMG_EXTS}) in --video {path}')
            self.capture = None
        elif osp.isfile(path):
            self.files, self.capture, self.pos = None, cv2.VideoCapture(path), 0
            if not self.capture.isOpened():
                raise OSError(f'cannot open video file {path}')
        else:
            raise FileNotFoundError(f'--video {path} does not exist')

    def get(self, index: int) -> Optional[np.ndarray]:
        """BGR frame ``index`` (0-based), or None past the end."""
        if self.files is not None:
            return cv2.imread(self.files[index]) if index < len(self.files) else None
        frame = None
        while self.pos <= index:
            ok, frame = self.capture.read()
            self.pos += 1
            if not ok:
                return None
        return frame

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()


def compose(drawn_rgb: np.ndarray, camera: Optional[np.ndarray], label: str) -> np.ndarray:
    """BGR output: the camera frame (if any) beside the drawn predictions."""
    canvas = cv2.cvtColor(drawn_rgb, cv2.COLOR_RGB2BGR)
    cv2.putText(canvas, label, (6, canvas.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 1, cv2.LINE_AA)
    if camera is None:
        return canvas
    h = canvas.shape[0]
    cam = cv2.resize(camera, (max(1, round(camera.shape[1] * h / camera.shape[0])), h))
    return np.concatenate([cam, canvas], axis=1)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the demo; returns ``dict(frames=..., fps=..., out=...)``."""
    args = parse_args(argv)
    model, cfg, amp_shape, canvas_shape = _build_model(args)
    visualizer = build_visualizer(args, model)
    numbers, fps, samples = csi_frames(args, cfg, amp_shape)
    camera = CameraFrames(args.video) if args.video else None
    to_video = args.out.lower().endswith(VIDEO_EXTS)
    if not to_video:
        os.makedirs(args.out, exist_ok=True)
    blank = np.zeros(canvas_shape + (3, ), np.uint8)
    writer, size, written, model_time = None, None, 0, 0.0
    bar = ProgressBar(len(numbers))
    start = time.perf_counter()
    try:
        for number, data in zip(numbers, samples):
            t0 = time.perf_counter()
            with torch.no_grad():
                result = model.test_step(pseudo_collate([data]))[0]
            model_time += time.perf_counter() - t0
            drawn = visualizer.draw_instances(blank, result.pred_instances,
                                              score_thr=args.score_thr)
            cam = camera.get(number - 1) if camera is not None else None
            out = compose(drawn, cam, f'WiFi frame {number}')
            if to_video:
                if writer is None:
                    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
                    size = (out.shape[1], out.shape[0])
                    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*args.fourcc),
                                             fps, size)
                    if not writer.isOpened():
                        raise OSError(f'cannot write video file {args.out} ({args.fourcc})')
                # a missing camera frame narrows the drawing: keep the video size
                writer.write(out if (out.shape[1], out.shape[0]) == size else
                             cv2.resize(out, size))
            else:
                path = osp.join(args.out, f'frame_{number:06d}.jpg')
                if not cv2.imwrite(path, out):
                    raise OSError(f'cannot write {path}')
            written += 1
            bar.update()
    finally:
        if writer is not None:
            writer.release()
        if camera is not None:
            camera.close()
    elapsed = time.perf_counter() - start
    if written == 0:
        raise ValueError(f'no CSI frame to run in {args.csi}')
    rate = written / elapsed if elapsed > 0 else float('inf')
    print(f'\n{written} frames -> {args.out}: {rate:.2f} frames/s end to end '
          f'({written / model_time:.2f} frames/s in the model) on {args.device}')
    return dict(frames=written, fps=rate, model_fps=written / model_time, out=args.out)


if __name__ == '__main__':
    cli(entry=main, name='wifi_demo.py')
