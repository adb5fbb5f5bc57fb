# Copyright (c) mmdensekd contributors. All rights reserved.
"""Time the DensePose evaluation on synthetic data of realistic size.

The default mimics DensePose-COCO minival: 1500 images, 2200 annotated
persons with 100 points and 14 part masks (256x256 RLE) each, two detections
per person plus one false positive per image, box-sized IUV charts; a
synthetic mesh the size of the SMPL subdivision (24 parts x 1148 vertices,
6890 distance vertices). Prints seconds per 1000 ground-truth instances.

Example::

    python tools/analysis/benchmark_densepose_eval.py --images 1500 --instances 2200
"""
import argparse
import time

import numpy as np
from pycocotools import mask as mask_utils

from mmdensekd.evaluation.functional import DensePoseEvalData, evaluate, to_challenge_format


def synthetic_eval_data(rng: np.random.Generator, verts_per_part: int = 1148,
                        num_dist_verts: int = 6890) -> DensePoseEvalData:
    """A random mesh with the sizes of the official files (random distances)."""
    parts = np.repeat(np.arange(1, 25), verts_per_part)
    u, v = rng.uniform(size=len(parts)), rng.uniform(size=len(parts))
    transform = rng.integers(1, num_dist_verts + 1, len(parts))
    pdist = rng.uniform(0, 1.5, num_dist_verts * (num_dist_verts - 1) // 2).astype(np.float32)
    return DensePoseEvalData(parts, u, v, transform, pdist, source='<synthetic>')


def _part_masks(rng: np.random.Generator) -> list:
    """14 dp_masks entries: a few blob-shaped parts, the rest absent."""
    yy, xx = np.mgrid[:256, :256]
    out = []
    for k in range(14):
        if rng.uniform() < 0.6:
            cx, cy, r = rng.uniform(60, 196), rng.uniform(40, 216), rng.uniform(20, 60)
            m = (((xx - cx) / r)**2 + ((yy - cy) / (1.6 * r))**2 < 1).astype(np.uint8)
            rle = mask_utils.encode(np.asfortranarray(m))
            rle['counts'] = rle['counts'].decode()
            out.append(rle)
        else:
            out.append([])
    return out


def synthetic_case(rng: np.random.Generator, num_images: int, num_instances: int,
                   num_points: int):
    """(ground-truth dict, results with in-memory ``iuv``)."""
    gt = dict(images=[], annotations=[], categories=[dict(id=1, name='person')])
    results = []
    img_of = np.sort(np.concatenate([np.arange(num_images),
                                     rng.integers(0, num_images, num_instances - num_images)]))
    masks = [_part_masks(rng) for _ in range(50)]  # reused: encoding is not what we time
    for i in range(num_images):
        gt['images'].append(dict(id=i + 1, height=480, width=640))
        fp_w, fp_h = int(rng.integers(30, 200)), int(rng.integers(60, 300))
        labels = rng.integers(0, 25, (fp_h, fp_w)).astype(np.uint8)
        results.append(dict(image_id=i + 1, category_id=1, score=float(rng.uniform(0, 0.5)),
                            bbox=[float(rng.uniform(0, 400)), float(rng.uniform(0, 200)), fp_w,
                                  fp_h],
                            iuv=np.stack([labels, *rng.integers(0, 256, (2, fp_h, fp_w),
                                                                dtype=np.uint8)])))
    for n, i in enumerate(img_of):
        w, h = float(rng.uniform(40, 300)), float(rng.uniform(80, 400))
        x, y = float(rng.uniform(0, 640 - w)), float(rng.uniform(0, 480 - h))
        gt['annotations'].append(dict(
            id=n + 1, image_id=int(i) + 1, category_id=1, iscrowd=0, bbox=[x, y, w, h],
            area=w * h * 0.6, dp_x=list(rng.uniform(0, 255, num_points)),
            dp_y=list(rng.uniform(0, 255, num_points)),
            dp_I=[int(p) for p in rng.integers(1, 25, num_points)],
            dp_U=list(rng.uniform(size=num_points)), dp_V=list(rng.uniform(size=num_points)),
            dp_masks=masks[n % len(masks)]))
        for _ in range(2):
            bx, by = x + float(rng.normal(0, 5)), y + float(rng.normal(0, 5))
            bw, bh = w * float(rng.uniform(0.9, 1.1)), h * float(rng.uniform(0.9, 1.1))
            cw, ch = max(int(bw), 1), max(int(bh), 1)
            labels = (rng.integers(1, 25, (ch, cw)) * (rng.uniform(size=(ch, cw)) < 0.7))
            results.append(dict(image_id=int(i) + 1, category_id=1,
                                score=float(rng.uniform(0.3, 1)), bbox=[bx, by, bw, bh],
                                iuv=np.stack([labels.astype(np.uint8),
                                              *rng.integers(0, 256, (2, ch, cw),
                                                            dtype=np.uint8)])))
    return gt, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=1500)
    parser.add_argument('--instances', type=int, default=2200)
    parser.add_argument('--points', type=int, default=100)
    parser.add_argument('--png', action='store_true',
                        help='pass results as base64 PNG (as read from a results file)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if args.instances < args.images:
        parser.error('--instances must be >= --images')
    rng = np.random.default_rng(args.seed)
    tic = time.perf_counter()
    eval_data = synthetic_eval_data(rng)
    gt, results = synthetic_case(rng, args.images, args.instances, args.points)
    if args.png:
        results = to_challenge_format(results)
    print(f'synthetic data: {args.images} images, {args.instances} instances, '
          f'{len(results)} detections ({time.perf_counter() - tic:.1f}s to build)')
    for run in ('first (cold vertex table)', 'second (warm vertex table)'):
        tic = time.perf_counter()
        stats = evaluate(gt, results, eval_data=eval_data, show_progress=False,
                         logger='silent')
        elapsed = time.perf_counter() - tic
        print(f'{run}: {elapsed:.2f}s total, {1000 * elapsed / args.instances:.2f}s per 1000 '
              f'instances (GPS AP {stats["GPS_AP"]:.3f}, GPSm AP {stats["GPSm_AP"]:.3f}, '
              f'IOU AP {stats["IOU_AP"]:.3f})')


if __name__ == '__main__':
    main()
