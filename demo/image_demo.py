# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose / keypoint R-CNN image demo.

Example::

    python demo/image_demo.py \
        configs/densepose_rcnn/densepose-rcnn_r50_fpn_s1x_densepose-coco.py \
        work_dirs/densepose_rcnn_r50_fpn_s1x.pth \
        --img demo/resources/demo_im.jpg --out-dir vis_results --vis-mode parts

Writes one drawing per input image to ``--out-dir`` (same file name). In a
directory, an unreadable file or an image with a side under
``MIN_IMAGE_SIDE`` pixels is skipped, counted and reported (the exit status
stays 0 while at least one image was drawn); a single such file given with
``--img`` is an error naming it. Errors print one line (``--debug``: the
traceback).
"""
import os
import os.path as osp
import sys
from argparse import ArgumentParser, Namespace
from typing import List, Optional

import cv2
from mmengine.config import DictAction
from mmengine.utils import track_iter_progress

from mmdensekd.apis import inference_model, init_model
from mmdensekd.utils.cli import USER_ERRORS, run_cli
from mmdensekd.visualization import VIS_MODES, DensePoseVisualizer

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: Smallest image side the detector can run on (below it the resized image
#: has no feature-map pixels at the coarsest FPN level).
MIN_IMAGE_SIDE = 32
DEFAULT_TEXTURE = osp.join(osp.dirname(osp.abspath(__file__)), 'resources',
                           'texture_atlas_200.png')


def add_common_args(parser: ArgumentParser) -> ArgumentParser:
    """Arguments shared by the image and the video demo."""
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='local checkpoint file')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--score-thr', type=float, default=0.5, help='box score threshold')
    parser.add_argument('--kpt-thr', type=float, default=0.3,
                        help='keypoint score threshold')
    parser.add_argument('--vis-mode', default='parts', choices=list(VIS_MODES) + ['none'],
                        help='how to draw DensePose results')
    parser.add_argument('--texture', default=DEFAULT_TEXTURE,
                        help='texture atlas (6 rows x 4 columns of tiles) for '
                        '--vis-mode texture')
    parser.add_argument('--alpha', type=float, default=0.6, help='opacity of the charts')
    parser.add_argument('--no-bbox', action='store_true', help='do not draw boxes')
    parser.add_argument('--no-keypoints', action='store_true', help='do not draw keypoints')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config settings, e.g. model.test_cfg.rcnn.max_per_img=10')
    parser.add_argument('--inference-dtype', choices=['fp32', 'bf16', 'fp16'], default=None,
                        help='fast inference: autocast dtype and BatchNorm folding '
                        '(default: the model as configured)')
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error instead of one line')
    return parser


def build_visualizer(args: Namespace, model) -> DensePoseVisualizer:
    """The visualiser configured by the command line."""
    vis_mode = None if args.vis_mode == 'none' else args.vis_mode
    visualizer = DensePoseVisualizer(
        name=f'demo_visualizer_{id(args)}',
        vis_mode=vis_mode,
        texture=args.texture if vis_mode == 'texture' else None,
        alpha=args.alpha,
        kpt_thr=args.kpt_thr,
        draw_bbox=not args.no_bbox,
        draw_keypoints=not args.no_keypoints)
    visualizer.dataset_meta = model.dataset_meta
    return visualizer


def list_images(path: str) -> List[str]:
    """An image file, or the images of a directory (sorted)."""
    if osp.isdir(path):
        files = sorted(
            osp.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMG_EXTENSIONS))
        if not files:
            raise FileNotFoundError(f'no image files ({", ".join(IMG_EXTENSIONS)}) in {path}')
        return files
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file or directory {path} does not exist')
    return [path]


def parse_args(argv: Optional[List[str]] = None) -> Namespace:
    parser = add_common_args(ArgumentParser(description=__doc__.split('\n')[0]))
    parser.add_argument('--img', required=True, help='image file or directory of images')
    parser.add_argument('--out-dir', required=True, help='directory of the drawings')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Run the demo; returns the written files."""
    args = parse_args(argv)
    images = list_images(args.img)
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options, inference_dtype=args.inference_dtype)
    visualizer = build_visualizer(args, model)
    os.makedirs(args.out_dir, exist_ok=True)
    written, skipped = [], []
    for path in track_iter_progress(images) if len(images) > 1 else images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            if len(images) == 1:
                raise OSError(f'cannot read image file {path}')
            skipped.append(path)
            print(f'{path}: cannot read this image file, skipped ({len(skipped)} skipped)')
            continue
        if min(img.shape[:2]) < MIN_IMAGE_SIDE:
            msg = (f'{path}: image of {img.shape[1]}x{img.shape[0]} pixels; both sides must '
                   f'be at least {MIN_IMAGE_SIDE} pixels')
            if len(images) == 1:
                raise ValueError(msg)
            skipped.append(path)
            print(f'{msg}, skipped ({len(skipped)} skipped)')
            continue
        result = inference_model(model, img)
        out_file = osp.join(args.out_dir, osp.basename(path))
        visualizer.add_datasample(osp.basename(path), cv2.cvtColor(img, cv2.COLOR_BGR2RGB),
                                  result, draw_gt=False, out_file=out_file,
                                  pred_score_thr=args.score_thr)
        num = int((result.pred_instances.scores >= args.score_thr).sum())
        print(f'{path}: {num} instances with score >= {args.score_thr} -> {out_file}')
        written.append(out_file)
    if skipped:
        print(f'{len(skipped)} of {len(images)} files could not be read or were too small '
              f'and were skipped: {", ".join(skipped)}')
    if not written:
        raise ValueError(f'no image of {args.img} could be drawn ({len(skipped)} skipped)')
    return written


def cli(argv: Optional[List[str]] = None, entry=None, name: str = 'image_demo.py') -> None:
    """Command-line entry of a demo (``entry``, default :func:`main`): errors
    as one line naming the file, non-zero exit; ``--debug`` re-raises."""
    debug = '--debug' in (argv if argv is not None else sys.argv[1:])
    run_cli(entry or main, argv, name, debug=debug, errors=USER_ERRORS + (RuntimeError, ))


if __name__ == '__main__':
    cli()
