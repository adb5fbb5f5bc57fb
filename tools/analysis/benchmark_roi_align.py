# Copyright (c) mmdensekd contributors. All rights reserved.
"""Time mmcv's RoIAlign against mmdensekd's vectorised CPU RoIAlign.

    python tools/analysis/benchmark_roi_align.py [--shape 800 1333]
        [--channels 256] [--repeat 5] [--threads T] [--seed 0]

The workloads are those of DensePose R-CNN inference on one image: the box
head (1000 proposals, 7x7, adaptive sampling, four FPN levels) and the
DensePose head (N detections, 28x28, sampling 2, aligned). Both kernels run
through mmdet's ``SingleRoIExtractor`` on the same random features and
RoIs, alternately; the median time of each, their ratio and the largest
absolute difference of the outputs are printed.
"""
import argparse
import copy
import statistics
import time
from typing import Dict, List, Optional

import torch
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

from mmdensekd.models.layers import swap_roi_align

#: name -> (number of RoIs, RoIAlign config)
WORKLOADS = {
    'box head 1000 RoIs 7x7 adaptive': (1000, dict(type='RoIAlign', output_size=7,
                                                   sampling_ratio=0, aligned=False)),
    'densepose 20 RoIs 28x28 s2 aligned': (20, dict(type='RoIAlign', output_size=28,
                                                    sampling_ratio=2, aligned=True)),
    'densepose 100 RoIs 28x28 s2 aligned': (100, dict(type='RoIAlign', output_size=28,
                                                      sampling_ratio=2, aligned=True)),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmcv vs fast CPU RoIAlign')
    parser.add_argument('--shape', type=int, nargs=2, default=(800, 1333), metavar=('H', 'W'),
                        help='network input size (features at strides 4..32)')
    parser.add_argument('--channels', type=int, default=256, help='feature channels')
    parser.add_argument('--repeat', type=int, default=5, help='timed runs per kernel')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--seed', type=int, default=0, help='seed of features and RoIs')
    parser.add_argument('--workloads', nargs='+', choices=list(WORKLOADS),
                        default=list(WORKLOADS), help='workloads to time')
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.channels < 1 or min(args.shape) < 32:
        parser.error('--repeat and --channels must be >= 1 and --shape at least 32x32')
    return args


def random_rois(num: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """(num, 5) RoIs of image 0 like RPN proposals: ``sqrt(w * h)``
    log-uniform in [16, 600] pixels, aspect ratio log-uniform in [1/3, 3]."""
    scale = torch.exp(torch.empty(num).uniform_(2.77, 6.4, generator=generator))
    aspect = torch.exp(torch.empty(num).uniform_(-1.1, 1.1, generator=generator))
    side = torch.stack([scale * aspect.sqrt(), scale / aspect.sqrt()], dim=1)
    xy = torch.rand(num, 2, generator=generator) * torch.tensor([width, height])
    x2y2 = torch.minimum(xy + side, torch.tensor([width, height], dtype=torch.float32))
    return torch.cat([torch.zeros(num, 1), xy, x2y2], dim=1)


def time_workload(num_rois: int, roi_layer: dict, feats: tuple, shape, channels: int,
                  repeat: int, generator: torch.Generator) -> Dict[str, float]:
    """Median ms of mmcv and of the fast kernel, their ratio and max diff."""
    rois = random_rois(num_rois, shape[0], shape[1], generator)
    mmcv_ext = SingleRoIExtractor(roi_layer=roi_layer, out_channels=channels,
                                  featmap_strides=[4, 8, 16, 32])
    fast_ext = copy.deepcopy(mmcv_ext)
    swap_roi_align(fast_ext)
    times: Dict[str, List[float]] = {'mmcv': [], 'fast': []}
    outs = {}
    with torch.no_grad():
        for i in range(repeat + 1):  # the first round warms up
            for name, ext in (('mmcv', mmcv_ext), ('fast', fast_ext)):
                start = time.perf_counter()
                outs[name] = ext(feats, rois)
                if i:
                    times[name].append(time.perf_counter() - start)
    mmcv_ms = statistics.median(times['mmcv']) * 1000
    fast_ms = statistics.median(times['fast']) * 1000
    return dict(mmcv_ms=mmcv_ms, fast_ms=fast_ms, speedup=mmcv_ms / fast_ms,
                max_abs_diff=float((outs['mmcv'] - outs['fast']).abs().max()))


def main(argv=None) -> Optional[dict]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    h, w = args.shape
    feats = tuple(
        torch.randn(1, args.channels, -(-h // s), -(-w // s), generator=g) for s in (4, 8, 16, 32))
    results = {}
    rows = [('workload', 'mmcv ms', 'fast ms', 'speedup', 'max |diff|')]
    for name in args.workloads:
        num, layer = WORKLOADS[name]
        r = time_workload(num, layer, feats, (h, w), args.channels, args.repeat, g)
        results[name] = r
        rows.append((name, f'{r["mmcv_ms"]:.1f}', f'{r["fast_ms"]:.1f}', f'{r["speedup"]:.2f}x',
                     f'{r["max_abs_diff"]:.2e}'))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    print(f'RoIAlign on {h}x{w} FPN features, {args.channels} channels, '
          f'{torch.get_num_threads()} threads, median of {args.repeat}')
    for i, r in enumerate(rows):
        print('  '.join(c.ljust(wd) for c, wd in zip(r, widths)))
        if i == 0:
            print('  '.join('-' * wd for wd in widths))
    return results


if __name__ == '__main__':
    main()
