# Copyright (c) mmdensekd contributors. All rights reserved.
"""Draw what the model sees: every sample after the configured pipeline.

Boxes, keypoints, DensePose points (coloured by fine part) and coarse masks
are drawn on the transformed image; for paired WiFi data the CSI amplitude
and phase are drawn as heatmaps beside the frame. Drawings are PNG files
(lossless) named after the image.

Example::

    python tools/analysis/browse_dataset.py CONFIG --output-dir browse \\
        [--not-show] [--phase train|val|test] [--max-samples 20]
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

from mmdensekd.registry import DATASETS
from mmdensekd.utils import register_all_modules
from mmdensekd.utils.misc import to_numpy
from mmdensekd.visualization import DensePoseVisualizer, draw_csi_panel

#: Transforms that load ground truth; added to val / test pipelines without one.
_GT_LOADERS = ('LoadAnnotations', 'LoadDensePoseAnnotations')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Browse a dataset after its pipeline')
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', default=None, help='directory of the drawings')
    parser.add_argument('--not-show', action='store_true', help='do not show in a window')
    parser.add_argument('--phase', default='train', choices=['train', 'val', 'test'],
                        help='which dataloader to browse')
    parser.add_argument('--show-interval', type=float, default=2,
                        help='seconds each shown drawing stays')
    parser.add_argument('--max-samples', type=int, default=-1,
                        help='browse at most this many samples (-1: all)')
    parser.add_argument('--vis-mode', default='parts', choices=['parts', 'u', 'v'],
                        help='colour DensePose points by part, U or V')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.output_dir is None and args.not_show:
        parser.error('--not-show without --output-dir would draw nothing')
    return args


def with_gt_loader(pipeline: list) -> list:
    """``pipeline`` with ``LoadDensePoseAnnotations`` after its image loader
    when it loads no ground truth (val / test pipelines)."""
    pipeline = [dict(t) for t in pipeline]
    if any(str(t.get('type', '')).split('.')[-1] in _GT_LOADERS for t in pipeline):
        return pipeline
    pos = next((i + 1 for i, t in enumerate(pipeline) if 'LoadImage' in str(t.get('type'))), 0)
    pipeline.insert(pos, dict(type='LoadDensePoseAnnotations', with_bbox=True,
                              with_label=True))
    return pipeline


def build_dataset(cfg: Config, phase: str):
    """The dataset of ``{phase}_dataloader`` (val / test with ground truth)."""
    key = f'{phase}_dataloader'
    if key not in cfg or 'dataset' not in cfg[key]:
        raise KeyError(f'config has no {key}.dataset')
    dataset_cfg = cfg[key].dataset
    if phase != 'train' and 'pipeline' in dataset_cfg:
        dataset_cfg.pipeline = with_gt_loader(dataset_cfg.pipeline)
    return DATASETS.build(dataset_cfg)


def draw_sample(item: dict, visualizer: DensePoseVisualizer) -> np.ndarray:
    """Draw one pipeline output: the image (or a black frame of
    ``img_shape`` for CSI-only samples) with its ground truth, and the CSI
    panel on the right for paired WiFi samples.

    Args:
        item (dict): ``inputs`` (a (3, H, W) BGR tensor or a dict with
            ``img`` and / or ``csi``) and ``data_samples``.
        visualizer (DensePoseVisualizer): Draws the ground truth.

    Returns:
        np.ndarray: (H, W', 3) uint8 RGB drawing.
    """
    inputs, sample = item['inputs'], item['data_samples']
    img_t = inputs.get('img') if isinstance(inputs, dict) else inputs
    csi = inputs.get('csi') if isinstance(inputs, dict) else None
    if img_t is not None:
        img = np.ascontiguousarray(to_numpy(img_t).transpose(1, 2, 0)[..., ::-1])
        img = np.clip(img, 0, 255).astype(np.uint8)
    else:
        h, w = sample.metainfo.get('img_shape', (256, 256))[:2]
        img = np.zeros((int(h), int(w), 3), np.uint8)
    drawn = img
    if 'gt_instances' in sample:
        drawn = visualizer.draw_instances(img, sample.gt_instances, score_thr=0.0,
                                          kpt_thr=0.5)
    if csi is not None:
        drawn = np.concatenate([drawn, draw_csi_panel(csi, drawn.shape[0])], axis=1)
    return drawn


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Browse the dataset; returns the written files."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset = build_dataset(cfg, args.phase)
    visualizer = DensePoseVisualizer(name=f'browse_dataset_{id(args)}', vis_mode=args.vis_mode)
    visualizer.dataset_meta = dataset.metainfo
    num = len(dataset) if args.max_samples < 0 else min(args.max_samples, len(dataset))
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
    written = []
    progress = ProgressBar(num)
    for i in range(num):
        item = dataset[i]
        drawn = draw_sample(item, visualizer)
        meta = item['data_samples'].metainfo
        path = meta.get('img_path') or meta.get('csi_path') or f'sample_{i:06d}'
        name = osp.splitext(osp.basename(path))[0] + '.png'
        if args.output_dir:
            out_file = osp.join(args.output_dir, name)
            if not cv2.imwrite(out_file, cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                raise OSError(f'cannot write image file {out_file}')
            written.append(out_file)
        if not args.not_show:
            visualizer.show(drawn, win_name=name, wait_time=args.show_interval)
        progress.update()
    print(f'\n{len(written)} drawings written to {args.output_dir}')
    return written


if __name__ == '__main__':
    main()
