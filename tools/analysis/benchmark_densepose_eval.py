# Copyright (c) mmdensekd contributors. All rights reserved.
"""Time the offline DensePose evaluation end to end on a DensePose-COCO-size
synthetic set, against the code path of release 0.x (kept here as the
baseline), and check that both give identical numbers.

The default mimics DensePose-COCO minival: 1500 images, 2200 annotated
persons with 100 points and 14 part masks each, three detections per person
plus one false positive per image (8100 results) with smooth box-sized IUV
charts as base64 PNG, and geodesic files of the official sizes (27,552
subdivided vertices, 23.7 M distances; ``--eval-data DIR`` uses real ones).
Each timed run is what ``tools/analysis/eval_densepose_results.py`` does
after its imports: read the annotation JSON, the results JSON and the
geodesic files (never cached between runs), decode the charts, evaluate
GPS, GPSm and IOU, with its default workers (forked processes sharing the
chunks with the main one, as many as the CPUs the load average leaves free;
``--workers N`` to force, ``--threads``: worker threads). Runs alternate
(baseline, current) ``--repeat`` times; each prints its wall time and its
CPU time (all threads and worker processes), the figure that counts on a
machine whose cores are busy with other work.

The baseline is release 0.x's code path, kept in this file: charts decoded
one by one in the main thread (as (3, h, w) copies), every chart of the top
detections decoded, masks resized with ``scipy.ndimage.zoom``, one matching
per mode and area range, and the ground truth's 14 RLE strings per
annotation checked one at a time (:func:`baseline_validate`).

Example::

    python tools/analysis/benchmark_densepose_eval.py --repeat 2
"""
import argparse
import gc
import json
import os.path as osp
import statistics
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np

from mmdensekd.evaluation.functional import (
    DENSEPOSE_MODES,
    DensePoseEvalData,
    accumulate,
    dump_densepose_results,
    evaluate_results_file,
    match_image,
    summarize,
)
from mmdensekd.evaluation.functional.densepose_eval import (
    _assign_vertices,
    _box_iou,
    _Gt,
    _resolve_modes,
)
from mmdensekd.evaluation.functional.densepose_masks import (
    ignore_region_mask,
    keep_outside_ignore,
    mask_iou_matrix,
    place_mask,
)
from mmdensekd.evaluation.functional.densepose_matching import AREA_RNGS, MAX_DETS
from mmdensekd.structures import decode_iuv_png
from mmdensekd.testing.synthetic_eval_data import (
    synthetic_densepose_case,
    write_full_size_eval_data,
)


# ------------------------------------------------------------- the baseline
class _BaselineDt:
    """A detection whose chart is decoded lazily and kept (release 0.x)."""

    def __init__(self, res: dict, index: int) -> None:
        self.res, self.index = res, index
        self.bbox = [float(c) for c in res['bbox']]
        self.score = float(res['score'])
        self.area = self.bbox[2] * self.bbox[3]
        self._iuv = None

    @property
    def iuv(self) -> np.ndarray:
        if self._iuv is None:
            self._iuv = (np.asarray(self.res['iuv']) if 'iuv' in self.res else
                         decode_iuv_png(self.res['uv_data']))
        return self._iuv


def _baseline_gps_matrix(dts: list, gts: list, eval_data: DensePoseEvalData) -> np.ndarray:
    out = np.zeros((len(dts), len(gts)))
    cols = [j for j, g in enumerate(gts) if not g.ignore and len(g.x) > 0]
    if not dts or not cols:
        return out
    gx = np.concatenate([gts[j].x for j in cols])
    gy = np.concatenate([gts[j].y for j in cols])
    gverts = np.concatenate([gts[j].verts for j in cols])
    valid = np.concatenate([gts[j].valid for j in cols])
    coeff = np.concatenate([gts[j].coeff for j in cols])
    counts = np.array([len(gts[j].x) for j in cols])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    num_valid = np.add.reduceat(valid.astype(np.int64), starts)
    boxes = np.array([d.bbox for d in dts])
    px = (gx[None, :] - boxes[:, :1]).astype(np.int64)
    py = (gy[None, :] - boxes[:, 1:2]).astype(np.int64)
    inside = ((px >= 0) & (py >= 0) & (px < boxes[:, 2:3].astype(np.int64))
              & (py < boxes[:, 3:4].astype(np.int64)))
    parts = np.zeros(px.shape, dtype=np.int64)
    u8 = np.zeros(px.shape, dtype=np.int64)
    v8 = np.zeros(px.shape, dtype=np.int64)
    for d, det in enumerate(dts):
        if not inside[d].any():
            continue
        iuv = det.iuv
        sel = inside[d] & (px[d] < iuv.shape[2]) & (py[d] < iuv.shape[1])
        yy, xx = py[d, sel], px[d, sel]
        parts[d, sel] = iuv[0, yy, xx]
        u8[d, sel] = iuv[1, yy, xx]
        v8[d, sel] = iuv[2, yy, xx]
    dverts = eval_data.closest_vertices_quantized(parts, u8, v8).reshape(px.shape)
    score = np.zeros(px.shape)
    both = (dverts > 0) & valid[None, :]
    if both.any():
        gv = np.broadcast_to(gverts, px.shape)[both]
        dist = eval_data.geodesic(gv, dverts[both])
        k = np.broadcast_to(coeff, px.shape)[both]
        score[both] = np.exp(-dist**2 / (2 * k**2))
    sums = np.add.reduceat(score, starts, axis=1)
    out[:, cols] = np.where(num_valid > 0, sums / np.maximum(num_valid, 1), 0.0)
    return out


def baseline_validate(gt: dict, source: str) -> None:
    """Release 0.x's ground-truth validation: the dataset's checks, each of
    the 14 ``dp_masks`` RLE strings of an annotation decoded on its own
    (``_check_rle``; the current code checks them in one pass)."""
    from mmdensekd.datasets.densepose_parsing import _check_rle, parse_densepose
    from mmdensekd.datasets.densepose_validation import validate_densepose_gt
    validate_densepose_gt(gt, source, check_densepose=False)
    for ann in gt['annotations']:
        where = f'{source}: image id {ann.get("image_id")}, annotation id {ann.get("id")}'
        parse_densepose({k: v for k, v in ann.items() if k != 'dp_masks'}, where)
        raw = ann.get('dp_masks')
        if raw is not None:
            if not isinstance(raw, (list, tuple)) or len(raw) != 14:
                raise ValueError(f'{where}: dp_masks must be a list of 14 RLE entries')
            [_check_rle(rle, i, where) for i, rle in enumerate(raw)]


def baseline_evaluate(gt: dict, results: list, eval_data: DensePoseEvalData,
                      modes=DENSEPOSE_MODES, max_dets: int = MAX_DETS) -> Dict[str, float]:
    """The evaluation loop of release 0.x: charts decoded one by one in the
    main thread, a full-chart lookup per group, one matching per mode and
    area range, masks resized with ``scipy.ndimage.zoom``."""
    from scipy.ndimage import zoom

    gt = dict(gt, images=list(gt['images']), annotations=list(gt['annotations']))
    baseline_validate(gt, '<gt>')
    modes = _resolve_modes(modes, eval_data)
    need_gps = any(m in ('GPS', 'GPSm') for m in modes)
    need_mask = any(m in ('GPSm', 'IOU') for m in modes)
    imgs = {img['id']: img for img in gt['images']}
    cat_ids = sorted(c['id'] for c in gt['categories'])
    img_ids = sorted(imgs)
    regions, gts = {}, defaultdict(list)
    for ann in gt['annotations']:
        iid = ann['image_id']
        if ann.get('category_id') not in cat_ids:
            continue
        if iid not in regions:
            regions[iid] = ignore_region_mask(imgs[iid])
        if not keep_outside_ignore(ann['bbox'], regions[iid]):
            continue
        gts[iid, ann['category_id']].append(
            _Gt(ann, imgs[iid], eval_data if need_gps else None, None, '<gt>'))
    if need_gps:
        _assign_vertices([g for group in gts.values() for g in group], eval_data)

    def scipy_gt_mask(g):  # release 0.x resized with scipy
        from pycocotools import mask as mask_utils
        if 'dp_masks' not in g.ann:
            return g.mask()
        rles = [r for r in g.ann['dp_masks'][:14] if r]
        union = (mask_utils.decode(mask_utils.merge(rles, intersect=False)).astype(np.float64)
                 if rles else np.zeros((256, 256)))
        _, _, w, h = g.bbox
        small = zoom(union, (max(h, 1.0) / 256, max(w, 1.0) / 256), order=1,
                     prefilter=False) > 0.5
        return place_mask(small.astype(np.uint8), g.bbox, int(g.img['height']),
                          int(g.img['width']))

    dts = defaultdict(list)
    for index, res in enumerate(results):
        iid = res['image_id']
        if iid not in imgs:
            continue
        dt = _BaselineDt(res, index)
        if regions.get(iid) is not None and not keep_outside_ignore(dt.bbox, regions[iid],
                                                                    fg=dt.iuv[0]):
            continue
        dts[iid, res['category_id']].append(dt)
    per_image = {m: [[[] for _ in cat_ids] for _ in AREA_RNGS] for m in modes}
    gt_masks = {}
    for k, cat in enumerate(cat_ids):
        for iid in img_ids:
            g_list, d_list = gts.get((iid, cat), []), dts.get((iid, cat), [])
            if not g_list and not d_list:
                for m in modes:
                    for a in range(len(AREA_RNGS)):
                        per_image[m][a][k].append(None)
                continue
            order = np.argsort([-d.score for d in d_list], kind='mergesort')[:max_dets]
            d_list = [d_list[i] for i in order]
            gps = _baseline_gps_matrix(d_list, g_list, eval_data) if need_gps else None
            miou = np.zeros((len(d_list), len(g_list)))
            if need_mask and d_list and g_list:
                h, w = int(imgs[iid]['height']), int(imgs[iid]['width'])
                for g in g_list:
                    if id(g) not in gt_masks:
                        gt_masks[id(g)] = scipy_gt_mask(g)
                miou = mask_iou_matrix([place_mask(d.iuv[0] > 0, d.bbox, h, w) for d in d_list],
                                       [gt_masks[id(g)] for g in g_list],
                                       [g.crowd for g in g_list])
            sims = {'GPS': gps, 'IOU': miou}
            if 'GPSm' in modes:
                sims['GPSm'] = np.sqrt(miou * gps)
            box = _box_iou(d_list, g_list)
            crowd = np.array([g.crowd for g in g_list], dtype=bool)
            base_ignore = np.array([g.ignore for g in g_list], dtype=bool)
            areas = np.array([g.area for g in g_list])
            scores = np.array([d.score for d in d_list])
            dt_area = np.array([d.area for d in d_list])
            for a, rng in enumerate(AREA_RNGS):
                ig = base_ignore | (areas < rng[0]) | (areas > rng[1])
                gorder = np.argsort(ig, kind='mergesort')
                for m in modes:
                    r = match_image(sims[m][:, gorder], box[:, gorder], ig[gorder],
                                    crowd[gorder], dt_area, rng)
                    r['scores'] = scores
                    per_image[m][a][k].append(r)
    out = {}
    for m in modes:
        precision = -np.ones((10, 101, len(cat_ids), len(AREA_RNGS)))
        recall = -np.ones((10, len(cat_ids), len(AREA_RNGS)))
        for a in range(len(AREA_RNGS)):
            for k in range(len(cat_ids)):
                acc = accumulate(per_image[m][a][k], max_det=max_dets)
                precision[:, :, k, a] = acc['precision']
                recall[:, k, a] = acc['recall']
        out.update({f'{m}_{n}': v for n, v in summarize(precision, recall).items()})
    return out


def baseline_offline(results_path: str, gt_path: str, eval_dir: str) -> Dict[str, float]:
    """Release 0.x's offline command: text JSON reads, no parallelism."""
    with open(gt_path) as f:
        gt = json.load(f)
    with open(results_path) as f:
        results = json.load(f)
    eval_data = DensePoseEvalData.from_dir(eval_dir)
    return baseline_evaluate(gt, results, eval_data)


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished worker
    processes (where the platform counts them)."""
    try:
        import resource
    except ImportError:  # not on a Unix
        return time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


# ------------------------------------------------------------------- main
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=1500)
    parser.add_argument('--instances', type=int, default=2200)
    parser.add_argument('--dets-per-instance', type=int, default=3)
    parser.add_argument('--points', type=int, default=100)
    parser.add_argument('--eval-data', default=None,
                        help='directory of the official geodesic files (default: synthetic '
                        'files of the official sizes)')
    parser.add_argument('--repeat', type=int, default=1, help='alternating runs of each path')
    parser.add_argument('--workers', type=int, default=None,
                        help='processes of the current path (the main one included), as the '
                        'offline command (default: the CPUs the load average leaves free, '
                        'at most 8)')
    parser.add_argument('--threads', action='store_true',
                        help='worker threads instead of processes (the offline command\'s '
                        '--threads)')
    parser.add_argument('--no-baseline', action='store_true',
                        help='time the current path only')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.instances < args.images or args.images < 1:
        parser.error('--instances must be >= --images >= 1')
    if args.repeat < 1:
        parser.error('--repeat must be >= 1')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        gt, results = synthetic_densepose_case(rng, args.images, args.instances,
                                               args.dets_per_instance, args.points)
        gt_path, results_path = osp.join(tmp, 'gt.json'), osp.join(tmp, 'results.json')
        with open(gt_path, 'w') as f:
            json.dump(gt, f)
        dump_densepose_results(results, results_path)
        eval_dir = args.eval_data or write_full_size_eval_data(tmp, rng)
        sizes = (f'{osp.getsize(gt_path) / 2**20:.0f} MB + '
                 f'{osp.getsize(results_path) / 2**20:.0f} MB')
        print(f'synthetic set: {args.images} images, {args.instances} persons, '
              f'{len(results)} results ({sizes} JSON; built in {time.perf_counter() - tic:.1f}s)')
        del gt, results
        times: Dict[str, List[float]] = {'baseline (release 0.x)': [], 'current': []}
        cpu: Dict[str, List[float]] = {k: [] for k in times}
        stats = {}
        runs = {'baseline (release 0.x)': lambda: baseline_offline(results_path, gt_path,
                                                                   eval_dir),
                'current': lambda: evaluate_results_file(
                    results_path, gt_path, eval_dir, cache_eval_data=False,
                    show_progress=False, logger='silent', workers=args.workers,
                    processes=not args.threads)}
        for _ in range(args.repeat):
            for name, run in runs.items():
                if args.no_baseline and name != 'current':
                    continue
                gc.collect()
                tic, cpu_tic = time.perf_counter(), _cpu_seconds()
                stats[name] = run()
                times[name].append(time.perf_counter() - tic)
                cpu[name].append(_cpu_seconds() - cpu_tic)
    times = {k: v for k, v in times.items() if v}
    out = dict(seconds={k: statistics.median(v) for k, v in times.items()},
               cpu_seconds={k: statistics.median(cpu[k]) for k in times}, stats=stats)
    for name, secs in out['seconds'].items():
        s = stats[name]
        print(f'{name:>24}: {secs:6.2f} s median of {len(times[name])} (loading included; '
              f'CPU time of all threads {out["cpu_seconds"][name]:6.2f} s)  '
              f'GPS AP {s["GPS_AP"]:.4f}  GPSm AP {s["GPSm_AP"]:.4f}  IOU AP {s["IOU_AP"]:.4f}')
    if len(times) == 2:
        base = 'baseline (release 0.x)'
        out['ratio'] = out['seconds']['current'] / out['seconds'][base]
        out['cpu_ratio'] = out['cpu_seconds']['current'] / out['cpu_seconds'][base]
        out['identical'] = stats['current'] == stats[base]
        print(f'current / baseline: {out["ratio"]:.3f} end to end (CPU time '
              f'{out["cpu_ratio"]:.3f}); numbers identical (all 30): {out["identical"]}')
        if not out['identical']:
            diff = {k: (v, stats['current'][k])
                    for k, v in stats['baseline (release 0.x)'].items()
                    if stats['current'][k] != v}
            print(f'DIFFERENT: {diff}')
    return out


if __name__ == '__main__':
    main()
