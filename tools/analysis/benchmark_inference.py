# Copyright (c) mmdensekd contributors. All rights reserved.
"""Benchmark model inference latency per image.

    python tools/analysis/benchmark_inference.py CONFIG [CKPT] [--num-images 50]
        [--warmup 5] [--device cpu|cuda] [--shape H W] [--cfg-options k=v ...]

Only the model's forward in ``predict`` mode is timed (under
``torch.no_grad()``, with ``torch.cuda.synchronize()`` on GPU): image
reading, the test pipeline and the data preprocessor (normalisation, padding,
host-to-device copy) run before the timer starts. Batch size is 1. Without a
checkpoint the model keeps its random initialisation (latency does not depend
on the weights, except through the number of detections reaching the
second-stage heads). With ``--shape H W``, or when the config's test dataset
cannot be built, a synthetic random image of that size goes through the test
pipeline instead of the dataset's images.
"""
import argparse
import os.path as osp
import statistics
import tempfile
import time
from typing import Callable, List, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmdensekd.registry import DATASETS, MODELS
from mmdensekd.utils import register_all_modules


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark inference latency per image')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (default: random init)')
    parser.add_argument('--num-images', type=int, default=50, help='timed images')
    parser.add_argument('--warmup', type=int, default=5, help='untimed warm-up images')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda when available)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='benchmark on a synthetic H x W image')
    parser.add_argument('--seed', type=int, default=0, help='seed of the synthetic image')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.warmup < 0:
        parser.error('--num-images must be >= 1 and --warmup >= 0')
    return args


def _synthetic_source(cfg: Config, shape, seed: int, tmp_dir: str) -> Callable[[int], dict]:
    """Run the test pipeline once on a random image written to ``tmp_dir``."""
    h, w = shape
    if h < 1 or w < 1:
        raise SystemExit(f'--shape must be positive, got {h} {w}')
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    path = osp.join(tmp_dir, 'synthetic.jpg')
    cv2.imwrite(path, img)
    pipeline_cfg = cfg.test_dataloader.dataset.get('pipeline')
    if not pipeline_cfg:
        raise SystemExit('--shape: the config has no test_dataloader.dataset.pipeline')
    pipeline = Compose(pipeline_cfg)
    sample = pipeline(dict(img_path=path, img_id=0, id=0, height=h, width=w, instances=[]))
    if sample is None:
        raise SystemExit('--shape: the test pipeline dropped the synthetic image')
    return lambda i: sample


def _dataset_source(cfg: Config) -> Callable[[int], dict]:
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    if len(dataset) == 0:
        raise ValueError('the test dataset is empty')
    return lambda i: dataset[i % len(dataset)]


def benchmark(model: torch.nn.Module, get_sample: Callable[[int], dict], num_images: int,
              warmup: int, device: torch.device) -> List[float]:
    """Time ``model(..., mode='predict')`` per image.

    Args:
        model (nn.Module): Model in eval mode on ``device``.
        get_sample (Callable): Image index -> packed sample (pipeline output).
        num_images (int): Timed images.
        warmup (int): Untimed images before.
        device (torch.device): Model device.

    Returns:
        list[float]: Latency per timed image in seconds.
    """
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(warmup + num_images):
            batch = model.data_preprocessor(pseudo_collate([get_sample(i)]), False)
            sync()
            start = time.perf_counter()
            model(**batch, mode='predict')
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return times


def format_table(rows: List[tuple]) -> str:
    """Two-column text table."""
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(str(v)) for _, v in rows)
    line = f'+-{"-" * width}-+-{"-" * vwidth}-+'
    body = [f'| {k:<{width}} | {str(v):<{vwidth}} |' for k, v in rows]
    return '\n'.join([line, *body, line])


def main(argv=None) -> Optional[dict]:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))

    model = MODELS.build(cfg.model)
    if args.checkpoint:
        if not osp.isfile(args.checkpoint):
            raise SystemExit(f'checkpoint {args.checkpoint} not found')
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    elif hasattr(model, 'init_weights'):
        model.init_weights()
    model = model.to(device).eval()

    with tempfile.TemporaryDirectory() as tmp_dir:
        if args.shape:
            get_sample, source = _synthetic_source(cfg, args.shape, args.seed, tmp_dir), \
                f'synthetic {args.shape[0]}x{args.shape[1]}'
        else:
            try:
                get_sample, source = _dataset_source(cfg), 'test dataset'
            except (FileNotFoundError, ValueError, OSError) as e:
                raise SystemExit(f'cannot build the test dataset ({e}); pass --shape H W to '
                                 'benchmark on a synthetic image') from None
        times = benchmark(model, get_sample, args.num_images, args.warmup, device)

    ms = [t * 1000 for t in times]
    median = statistics.median(ms)
    result = dict(median_ms=median, mean_ms=statistics.fmean(ms), min_ms=min(ms),
                  max_ms=max(ms), images_per_s=1000.0 / median)
    print(format_table([
        ('config', osp.basename(args.config)),
        ('checkpoint', osp.basename(args.checkpoint) if args.checkpoint else 'random init'),
        ('device', str(device)),
        ('images', f'{args.num_images} ({source}), warm-up {args.warmup}'),
        ('median latency (ms/img)', f'{median:.1f}'),
        ('mean latency (ms/img)', f'{result["mean_ms"]:.1f}'),
        ('min / max (ms/img)', f'{result["min_ms"]:.1f} / {result["max_ms"]:.1f}'),
        ('images/s (median)', f'{result["images_per_s"]:.2f}'),
    ]))
    return result


if __name__ == '__main__':
    main()
