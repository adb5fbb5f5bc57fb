# Copyright (c) mmdensekd contributors. All rights reserved.
"""Top-down DensePose / keypoint demo on a video with an mmdet person detector.

Frame by frame: the detector gives person boxes, our DensePose / keypoint
R-CNN runs its branches on them, the drawing goes to the output video.
A progress bar runs over the frames and the processing speed (fps) is
printed at the end.

Example::

    python demo/top_down_video_demo_with_mmdet.py \\
        DET_CONFIG DET_CHECKPOINT POSE_CONFIG POSE_CHECKPOINT \\
        --video-path input.mp4 --out-video-root vis_results
"""
import json
import os
import os.path as osp
import sys
import time
from argparse import ArgumentParser, Namespace
from typing import List, Optional

import cv2
from mmengine.utils import ProgressBar

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from top_down_img_demo_with_mmdet import (  # noqa: E402
    add_common_args,
    build_detector,
    build_visualizer,
    instances_to_json,
    predict_frame,
)

from mmdensekd.apis import init_model  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> Namespace:
    parser = add_common_args(ArgumentParser(description=__doc__.split('\n')[0]))
    parser.add_argument('--video-path', '--input', dest='video_path', required=True,
                        help='input video file')
    parser.add_argument('--out-video-root', default='',
                        help='directory of the output video (vis_<name>.mp4)')
    parser.add_argument('--fourcc', default='mp4v', help='FourCC code of the output codec')
    parser.add_argument('--max-frames', type=int, default=-1,
                        help='stop after this many frames (-1: all)')
    args = parser.parse_args(argv)
    if not args.out_video_root and not args.show:
        parser.error('give --out-video-root and / or --show')
    if len(args.fourcc) != 4:
        parser.error(f'--fourcc must have 4 characters, got {args.fourcc!r}')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the demo.

    Returns:
        dict: ``frames`` (number processed), ``fps`` (frames per second of
        detection + pose + drawing) and ``out_file`` (output video or None).
    """
    args = parse_args(argv)
    if not osp.isfile(args.video_path):
        raise FileNotFoundError(f'video file {args.video_path} does not exist')
    detector = build_detector(args.det_config, args.det_checkpoint, args.device,
                              args.det_cfg_options)
    pose_model = init_model(args.pose_config, args.pose_checkpoint, device=args.device,
                            cfg_options=args.cfg_options)
    visualizer = build_visualizer(args, pose_model)

    capture = cv2.VideoCapture(args.video_path)
    if not capture.isOpened():
        raise OSError(f'cannot open video file {args.video_path}')
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if args.max_frames >= 0:
        total = min(total, args.max_frames) if total > 0 else args.max_frames
    name = osp.splitext(osp.basename(args.video_path))[0]
    out_file = osp.join(args.out_video_root, f'vis_{name}.mp4') if args.out_video_root else None
    writer, count, predictions = None, 0, []
    progress = ProgressBar(max(total, 0))
    start = time.perf_counter()
    try:
        while args.max_frames < 0 or count < args.max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            result = predict_frame(frame, args, detector, pose_model)
            drawn = visualizer.add_datasample(
                name, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), result, draw_gt=False,
                show=args.show, wait_time=0.001, pred_score_thr=0.0)
            if out_file is not None:
                if writer is None:
                    os.makedirs(args.out_video_root, exist_ok=True)
                    writer = cv2.VideoWriter(out_file, cv2.VideoWriter_fourcc(*args.fourcc),
                                             fps_in, (drawn.shape[1], drawn.shape[0]))
                    if not writer.isOpened():
                        raise OSError(f'cannot write video file {out_file} with codec '
                                      f'{args.fourcc}')
                writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            if args.save_predictions:
                predictions.append(dict(frame_id=count,
                                        instances=instances_to_json(result.pred_instances)))
            count += 1
            progress.update()
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    elapsed = time.perf_counter() - start
    if count == 0:
        raise OSError(f'no frame could be read from {args.video_path}')
    fps = count / elapsed if elapsed > 0 else float('inf')
    if args.save_predictions and args.out_video_root:
        with open(osp.join(args.out_video_root, f'results_{name}.json'), 'w',
                  encoding='utf-8') as f:
            json.dump(dict(video_path=args.video_path, instance_info=predictions), f)
    print(f'\n{count} frames in {elapsed:.2f} s: {fps:.2f} fps'
          + (f' -> {out_file}' if out_file else ''))
    return dict(frames=count, fps=fps, out_file=out_file)


if __name__ == '__main__':
    main()
