# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose / keypoint R-CNN video demo (frame by frame, OpenCV I/O).

Example::

    python demo/video_demo.py \
        configs/densepose_rcnn/densepose-rcnn_r50_fpn_s1x_densepose-coco.py \
        work_dirs/densepose_rcnn_r50_fpn_s1x.pth \
        --video input.mp4 --out output.mp4 --vis-mode texture
"""
import os
import os.path as osp
import sys
import time
from argparse import ArgumentParser, Namespace
from typing import List, Optional

import cv2
from mmengine.utils import ProgressBar

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from image_demo import add_common_args, build_visualizer  # noqa: E402

from mmdensekd.apis import inference_model, init_model  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> Namespace:
    parser = add_common_args(ArgumentParser(description=__doc__.split('\n')[0]))
    parser.add_argument('--video', required=True, help='input video file')
    parser.add_argument('--out', required=True, help='output video file (.mp4)')
    parser.add_argument('--fourcc', default='mp4v', help='FourCC code of the output codec')
    parser.add_argument('--max-frames', type=int, default=-1,
                        help='stop after this many frames (-1: all)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the demo; returns the number of frames written."""
    args = parse_args(argv)
    if not osp.isfile(args.video):
        raise FileNotFoundError(f'video file {args.video} does not exist')
    if len(args.fourcc) != 4:
        raise ValueError(f'--fourcc must have 4 characters, got {args.fourcc!r}')
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options, inference_dtype=args.inference_dtype)
    visualizer = build_visualizer(args, model)

    capture = cv2.VideoCapture(args.video)
    if not capture.isOpened():
        raise OSError(f'cannot open video file {args.video}')
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    progress = ProgressBar(min(total, args.max_frames) if args.max_frames >= 0 else total)
    start = time.perf_counter()
    writer = None
    count = 0
    try:
        while args.max_frames < 0 or count < args.max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            result = inference_model(model, frame)
            drawn = visualizer.add_datasample(
                'frame', cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), result, draw_gt=False,
                pred_score_thr=args.score_thr)
            if writer is None:
                out_dir = osp.dirname(osp.abspath(args.out))
                os.makedirs(out_dir, exist_ok=True)
                writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*args.fourcc), fps,
                                         (drawn.shape[1], drawn.shape[0]))
                if not writer.isOpened():
                    raise OSError(f'cannot write video file {args.out} with codec '
                                  f'{args.fourcc}')
            writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            count += 1
            progress.update()
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if count == 0:
        raise OSError(f'no frame could be read from {args.video}')
    elapsed = time.perf_counter() - start
    print(f'\n{count} frames -> {args.out} ({count / max(elapsed, 1e-9):.2f} fps)')
    return count


if __name__ == '__main__':
    main()
