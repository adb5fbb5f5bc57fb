# Copyright (c) mmdensekd contributors. All rights reserved.
"""Vectorised COCO DensePose evaluation (GPS, GPSm and IOU AP/AR).

:func:`evaluate` takes a DensePose-COCO ground-truth dict and results in the
COCO DensePose challenge format and returns the protocol's numbers. Per image
and category it builds three (D, G) matrices with numpy (GPS, mask IoU, box
IoU), then matches all thresholds at once (see ``densepose_matching``).

Protocol (COCO DensePose, as in detectron2's ``densepose_coco_evaluation``):

* ground truth without ``dp_x`` is ignored; crowd ground truth may be
  matched many times and its IoU is over the detection; area ranges all /
  medium / large use the annotation ``area``; detections use ``w * h``;
* at most 20 detections per image and category, best score first;
* GPS of a (detection, ground truth) pair = mean over the ground-truth points
  of ``exp(-g^2 / (2 k^2))``, g the geodesic distance between the nearest
  mesh vertices of the ground-truth (I, U, V) and of the predicted IUV at the
  point's pixel ``int(x_img - x_det)``, ``int(y_img - y_det)``
  (``x_img = x0 + dp_x * w / 255``); points outside the detection box or on
  predicted background score 0; k is the per-part mean geodesic distance
  (or one ``gps_kappa``, 0.255 in the 2018 challenge);
* mask IoU compares the predicted foreground (I > 0) pasted at the detection
  box with the union of the ground-truth ``dp_masks`` resized to its box;
  GPSm = sqrt(GPS * mask IoU); IOU mode = mask IoU;
* images may carry ``ignore_regions_x/y`` polygons that drop ground truth and
  detections lying in them.

A chart is decoded only where it can change a number: a similarity below the
lowest threshold (0.5) never matches, so a detection whose upper bounds
(share of a ground truth's points or mask inside its box) all stay below is
not decoded, only checked (same numbers, see ``_prepare_group``).

Deviations: U, V of predictions are the uint8 values of the results format
(our charts are rounded to uint8, detectron2's in-memory results truncate);
nearest vertices are found with a k-d tree over 4 candidates and exact
distances (ties beyond 4 equidistant vertices may differ); a negative box
origin is clipped to 0 in the ignore-region test; results for images absent
from the ground truth are skipped and counted rather than rejected.
"""
import math
import multiprocessing as mp
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from pycocotools import mask as mask_utils

from mmdensekd.datasets.densepose_parsing import densepose_fields_valid
from mmdensekd.datasets.densepose_validation import validate_densepose_gt

from .densepose_charts import Chart, chart_header_ok, read_chart
from .densepose_eval_data import DensePoseEvalData, gps_normalisation
from .densepose_masks import (
    PlacedMask,
    dp_masks_to_box_mask,
    ignore_region_mask,
    keep_outside_ignore,
    mask_intersection,
    mask_iou_from_intersections,
    place_mask,
    segmentation_to_placed_mask,
)
from .densepose_matching import (
    AREA_LABELS,
    AREA_RNGS,
    IOU_THRS,
    MAX_DETS,
    REC_THRS,
    STAT_NAMES,
    accumulate,
    match_images,
    summarize,
)
from .densepose_workers import SharedChunks

DENSEPOSE_MODES = ('GPS', 'GPSm', 'IOU')
_GEODESIC_MODES = ('GPS', 'GPSm')


class _Gt:
    """One ground-truth annotation, with its points in the image frame."""

    def __init__(self, ann: dict, img: dict, eval_data: Optional[DensePoseEvalData],
                 kappa: Optional[float], source: str) -> None:
        self.ann = ann
        self.img = img
        self.id = ann.get('id')
        self.bbox = [float(c) for c in ann['bbox']]
        self.area = float(ann['area']) if 'area' in ann else self.bbox[2] * self.bbox[3]
        self.crowd = bool(ann.get('iscrowd', 0))
        self.ignore = 'dp_x' not in ann
        self.num_bad_points = 0
        self._mask: Optional[PlacedMask] = None
        #: area of :meth:`mask` (set by it, or by a worker process)
        self.mask_area: Optional[int] = None
        if self.ignore or eval_data is None:
            self.x = self.y = np.zeros(0)
            return
        arrays = [np.asarray(ann.get(k, []), dtype=np.float64).reshape(-1)
                  for k in ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(
                f'{source}: annotation {self.id} of image {ann.get("image_id")} has dp_x, dp_y, '
                f'dp_I, dp_U, dp_V of unequal lengths {[len(a) for a in arrays]}')
        dp_x, dp_y, parts, u, v = arrays
        gx, gy, gw, gh = self.bbox
        # Same float operations as the protocol, so int() truncates alike.
        self.x = dp_x * gw / 255.0 + gx
        self.y = dp_y * gh / 255.0 + gy
        self.parts, self.u, self.v = parts.astype(np.int64), u, v
        self.coeff = gps_normalisation(self.parts, kappa)
        self.verts = self.valid = None  # set by _assign_vertices

    def set_vertices(self, verts: np.ndarray) -> None:
        self.verts = verts
        self.valid = verts > 0
        self.num_bad_points = int(np.count_nonzero(~self.valid))

    def mask(self) -> PlacedMask:
        """The ground-truth foreground pasted in the image (cached)."""
        if self._mask is None:
            h, w = int(self.img['height']), int(self.img['width'])
            if 'dp_masks' in self.ann:
                self._mask = place_mask(dp_masks_to_box_mask(self.ann['dp_masks'], self.bbox),
                                        self.bbox, h, w)
            elif 'segmentation' in self.ann:
                self._mask = segmentation_to_placed_mask(self.ann['segmentation'], h, w)
            else:
                self._mask = place_mask(None, self.bbox, h, w)
            self.mask_area = self._mask.area
        return self._mask


class _Dt:
    """One detection of the results list.

    Its chart is read at most once (:func:`_prepare_group`, possibly in a
    worker thread or process) and reduced to what the protocol uses: the IUV
    values at the ground-truth points of its image and category, the
    foreground's intersection with each ground-truth mask, and the
    ignore-region test; the chart itself is not kept. A chart that cannot
    change a number is only checked (:meth:`check_chart`).
    """

    def __init__(self, res: dict, index: int, results_source: str = '<results>') -> None:
        self.res = res
        self.index = index
        self.where = f'{results_source}: result {index} (image {res.get("image_id")})'
        try:
            self.bbox = [float(c) for c in res['bbox']]
            self.score = float(res['score'])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f'{self.where}: needs a "bbox" of 4 numbers and a numeric '
                             f'"score" ({err!r})') from None
        if len(self.bbox) != 4 or not all(map(math.isfinite, self.bbox + [self.score])):
            raise ValueError(f'{self.where}: bbox {self.bbox} / score {self.score} must be '
                             '4 + 1 finite numbers')
        self.area = self.bbox[2] * self.bbox[3]
        self.keep = True
        self.mask_area = 0
        self.inter: Optional[np.ndarray] = None  # (G,) intersections
        self.samples: Optional[np.ndarray] = None  # (3, P) I, U, V at the points
        self.dverts: Optional[np.ndarray] = None  # (P,) their mesh vertices

    def load_chart(self) -> Chart:
        """The chart (:func:`read_chart` of ``uv_data``, or the in-memory
        ``iuv``); errors name the result index and image."""
        if 'iuv' in self.res:
            iuv = np.asarray(self.res['iuv'])
            if iuv.ndim == 3:
                iuv = iuv.transpose(1, 2, 0)
            chart = Chart(iuv) if iuv.ndim == 3 else None
        elif 'uv_data' in self.res:
            try:
                chart = read_chart(self.res['uv_data'])
            except ValueError as err:
                raise ValueError(f'{self.where}: {err}') from None
        else:
            raise KeyError(f'{self.where} has neither "uv_data" nor "iuv"')
        shape = self.res.get('uv_shape')
        chw = None if chart is None else [chart.num_channels, chart.height, chart.width]
        try:
            other_shape = shape is not None and chw != list(shape)
        except TypeError:  # not a sequence (e.g. a number)
            other_shape = True
        if chw is None or chw[0] != 3 or other_shape:
            raise ValueError(f'{self.where}: IUV of shape {tuple(chw or iuv.shape)}, uv_shape '
                             f'says {shape}')
        return chart

    def check_chart(self) -> None:
        """Check a chart that is not decoded (it cannot change a number):
        errors name the result as :meth:`load_chart`'s."""
        if 'iuv' not in self.res and not chart_header_ok(self.res.get('uv_data'),
                                                         self.res.get('uv_shape')):
            self.load_chart()  # raises the decoder's message (or reads it after all)

    def read(self, chart: Chart, pixels: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]],
             gt_masks: Optional[List[PlacedMask]], overlap: Sequence[int],
             region: Optional[np.ndarray], img_hw: Tuple[int, int]) -> None:
        """Keep from the chart what matching uses.

        Args:
            chart (Chart): the chart (:meth:`load_chart`).
            pixels (tuple, optional): (P,) columns and rows of the group's
                ground-truth points in the box and whether they lie inside
                it (GPS modes; ``self.samples`` allocated), else None.
            gt_masks (list[PlacedMask], optional): ground-truth masks of the
                group (mask modes), else None.
            overlap (Sequence[int]): the masks the box overlaps (the others
                have no intersection with it).
            region (np.ndarray, optional): the image's ignore region.
            img_hw (tuple[int, int]): image height and width.
        """
        if pixels is not None:  # first: the samples' table also gives the labels
            px, py, inside = pixels
            sel = np.flatnonzero(inside & (px < chart.width) & (py < chart.height))
            if len(sel):
                self.samples[:, sel] = chart.sample(py[sel], px[sel])
        if region is not None:
            self.keep = keep_outside_ignore(self.bbox, region, fg=chart.foreground())
        if gt_masks is not None:
            placed = place_mask(chart.foreground(), self.bbox, *img_hw, view=True)
            self.mask_area = placed.area
            if placed.area:
                for j in overlap:
                    self.inter[j] = mask_intersection(placed, gt_masks[j])


def _mask_counts(mask: PlacedMask) -> np.ndarray:
    """(h + 1, w + 1) summed-area table of a placed mask (pixels set in
    any rectangle with four look-ups)."""
    return cv2.integral(np.ascontiguousarray(mask.mask, dtype=np.uint8))


def _prepare_group(d_list: List[_Dt], points: Optional['_GroupPoints'],
                   gt_masks: Optional[List[PlacedMask]], gt_crowd: Sequence[bool],
                   region: Optional[np.ndarray], img_hw: Tuple[int, int],
                   modes: Optional[Sequence[str]]) -> None:
    """Read the charts of one (image, category) group that can matter and
    keep what matching needs (:meth:`_Dt.read`).

    A chart matters for the ignore-region test and for a similarity that
    may reach the lowest matching threshold (0.5): a similarity below it
    never matches, whatever its value. So, with ``modes`` given, a chart is
    not decoded when upper bounds of all its similarities stay below (GPS:
    the share of a ground truth's valid points inside the box; mask IoU:
    the share of a non-crowd ground-truth mask inside the box, 1 for an
    overlapped crowd mask; GPSm: the geometric mean of both); its
    similarities are then left at 0. Without ``modes`` every chart whose
    box holds a point or overlaps a mask is read (exact values).

    Args:
        d_list (list[_Dt]): the group's detections.
        points (_GroupPoints, optional): ground-truth points (GPS modes).
        gt_masks (list[PlacedMask], optional): ground-truth masks (mask
            modes).
        gt_crowd (Sequence[bool]): crowd flags of the group's ground truth.
        region (np.ndarray, optional): the image's ignore region.
        img_hw (tuple[int, int]): image height and width.
        modes (Sequence[str], optional): the evaluated modes.
    """
    num_d, num_g = len(d_list), len(gt_crowd)
    if not num_d:
        return
    boxes = np.array([d.bbox for d in d_list], dtype=np.float64).reshape(num_d, 4)
    need = np.full(num_d, region is not None)
    gps_bound = np.zeros((num_d, num_g))
    iou_bound = np.zeros((num_d, num_g))
    px = py = inside = None
    if points is not None and len(points.x):
        # Same operations as the protocol, so int() truncates alike.
        px = (points.x[None, :] - boxes[:, :1]).astype(np.int64)
        py = (points.y[None, :] - boxes[:, 1:2]).astype(np.int64)
        inside = ((px >= 0) & (py >= 0) & (px < boxes[:, 2:3].astype(np.int64))
                  & (py < boxes[:, 3:4].astype(np.int64)))
        for d in d_list:
            d.samples = np.zeros((3, len(points.x)), dtype=np.uint8)
        if points.cols:
            hits = np.add.reduceat((inside & points.valid).astype(np.int64), points.starts,
                                   axis=1)
            gps_bound[:, points.cols] = hits / np.maximum(points.num_valid, 1)
        if modes is None:
            need |= inside.any(axis=1)
    reach = IOU_THRS[0] - 1e-9  # margin for the rounding of the sums
    if modes is not None and 'GPS' in modes:
        need |= (gps_bound >= reach).any(axis=1)
    overlaps: List[List[int]] = [[] for _ in range(num_d)]
    if gt_masks is not None:
        # the protocol's pasting rule clips the detection to this box
        x0 = np.maximum(boxes[:, 0].astype(np.int64), 0)
        y0 = np.maximum(boxes[:, 1].astype(np.int64), 0)
        x1 = np.minimum((boxes[:, 0] + boxes[:, 2]).astype(np.int64), img_hw[1])
        y1 = np.minimum((boxes[:, 1] + boxes[:, 3]).astype(np.int64), img_hw[0])
        for d in d_list:
            d.inter = np.zeros(num_g, dtype=np.int64)
        for j, g in enumerate(gt_masks):
            if not g.area:
                continue
            h, w = g.mask.shape
            hit = (g.x0 < x1) & (x0 < g.x0 + w) & (g.y0 < y1) & (y0 < g.y0 + h)
            if not hit.any():
                continue
            for i in np.flatnonzero(hit):
                overlaps[i].append(j)
            if modes is None:
                need |= hit
                continue
            if not (hit & ~need).any():
                continue  # the charts of these boxes are read anyway
            if gt_crowd[j]:  # intersection over the detection: no bound
                iou_bound[hit, j] = 1.0
                continue
            table = _mask_counts(g)
            cx0 = np.minimum(np.maximum(x0 - g.x0, 0), w)
            cx1 = np.minimum(np.maximum(x1 - g.x0, 0), w)
            cy0 = np.minimum(np.maximum(y0 - g.y0, 0), h)
            cy1 = np.minimum(np.maximum(y1 - g.y0, 0), h)
            inside_mask = (table[cy1, cx1] - table[cy0, cx1] - table[cy1, cx0]
                           + table[cy0, cx0])
            iou_bound[:, j] = np.where(hit, inside_mask / g.area, 0.0)
    if modes is not None:
        # mask bounds were left at 0 only for charts that are read anyway
        bounds = {'IOU': iou_bound, 'GPSm': np.sqrt(gps_bound * iou_bound)}
        for m in modes:
            if m in bounds:
                need |= (bounds[m] >= reach).any(axis=1)
    for i, d in enumerate(d_list):
        if need[i]:
            d.read(d.load_chart(), None if px is None else (px[i], py[i], inside[i]), gt_masks,
                   overlaps[i], region, img_hw)
        else:
            d.check_chart()


class _GroupPoints:
    """The ground-truth points of one (image, category) group, concatenated
    over its non-ignored annotations with points (``cols``)."""

    def __init__(self, gts: List[_Gt]) -> None:
        self.cols = [j for j, g in enumerate(gts) if not g.ignore and len(g.x) > 0]
        sel = [gts[j] for j in self.cols]

        def cat(name: str, dtype) -> np.ndarray:
            return (np.concatenate([getattr(g, name) for g in sel]) if sel else
                    np.zeros(0, dtype=dtype))

        self.x, self.y = cat('x', np.float64), cat('y', np.float64)
        self.verts, self.valid = cat('verts', np.int64), cat('valid', bool)
        self.coeff = cat('coeff', np.float64)
        counts = np.array([len(g.x) for g in sel], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.num_valid = (np.add.reduceat(self.valid.astype(np.int64), self.starts)
                          if sel else np.zeros(0, dtype=np.int64))


def _assign_vertices(gts: Sequence[_Gt], eval_data: DensePoseEvalData) -> None:
    """Closest mesh vertices of all ground-truth points, in one batch."""
    gts = [g for g in gts if len(g.x) > 0]
    if not gts:
        return
    verts = eval_data.closest_vertices(np.concatenate([g.parts for g in gts]),
                                       np.concatenate([g.u for g in gts]),
                                       np.concatenate([g.v for g in gts]))
    for g, chunk in zip(gts, np.split(verts, np.cumsum([len(g.x) for g in gts])[:-1])):
        g.set_vertices(chunk)


def _gps_matrix(dts: List[_Dt], num_gt: int, points: _GroupPoints,
                eval_data: DensePoseEvalData) -> np.ndarray:
    """(D, G) GPS of every prepared detection against every non-ignored
    ground truth of a group."""
    out = np.zeros((len(dts), num_gt))
    if not dts or not points.cols:
        return out
    if all(d.dverts is not None for d in dts):  # looked up by chunk (evaluate)
        dverts = np.stack([d.dverts for d in dts])  # (D, P)
    else:
        parts, u8, v8 = np.stack([d.samples for d in dts], axis=1).astype(np.int64)
        dverts = eval_data.closest_vertices_quantized(parts, u8, v8).reshape(parts.shape)
    score = np.zeros(dverts.shape)
    both = (dverts > 0) & points.valid[None, :]
    if both.any():
        gv = np.broadcast_to(points.verts, dverts.shape)[both]
        dist = eval_data.geodesic(gv, dverts[both])
        k = np.broadcast_to(points.coeff, dverts.shape)[both]
        score[both] = np.exp(-dist**2 / (2 * k**2))
    sums = np.add.reduceat(score, points.starts, axis=1)
    num_valid = points.num_valid
    out[:, points.cols] = np.where(num_valid > 0, sums / np.maximum(num_valid, 1), 0.0)
    return out


def default_workers() -> int:
    """Workers of the evaluation: the CPUs this process may use that other
    work leaves free (by the 1-minute load average, this process counted
    once), at least 1, at most 8.

    Where the other cores are busy a second worker only shares this
    process's CPU time (and costs its own), so none is started; an explicit
    ``workers`` is used as given.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        others = max(0.0, os.getloadavg()[0] - 1.0)
    except (AttributeError, OSError):  # no load average here
        others = 0.0
    return max(1, min(8, cpus, int(round(cpus - others))))


def pairwise_gps(results: Sequence[dict], anns: Sequence[dict],
                 eval_data: DensePoseEvalData, gps_kappa: Optional[float] = None) -> np.ndarray:
    """GPS of every result against every ground-truth annotation.

    Args:
        results (Sequence[dict]): D results (``bbox``, ``score`` and ``iuv``
            or ``uv_data``).
        anns (Sequence[dict]): G DensePose-COCO annotations.
        eval_data (DensePoseEvalData): geodesic data.
        gps_kappa (float, optional): see :func:`evaluate`.

    Returns:
        np.ndarray: (D, G) GPS, 0 for annotations without ``dp_x``.
    """
    dts = [_Dt(r, i) for i, r in enumerate(results)]
    gts = [_Gt(a, {}, eval_data, gps_kappa, '<anns>') for a in anns]
    _assign_vertices(gts, eval_data)
    points = _GroupPoints(gts)
    _prepare_group(dts, points, None, [False] * len(gts), None, (0, 0), None)
    return _gps_matrix(dts, len(gts), points, eval_data)


def _box_iou(dts: List[_Dt], gts: List[_Gt]) -> np.ndarray:
    if not dts or not gts:
        return np.zeros((len(dts), len(gts)))
    return np.asarray(
        mask_utils.iou(np.array([d.bbox for d in dts]), np.array([g.bbox for g in gts]),
                       [int(g.crowd) for g in gts])).reshape(len(dts), len(gts))


def _resolve_modes(modes: Sequence[str], eval_data: Optional[DensePoseEvalData]) -> List[str]:
    modes = [modes] if isinstance(modes, str) else list(modes)
    for m in modes:
        if m not in DENSEPOSE_MODES:
            raise ValueError(f'unknown DensePose evaluation mode {m!r}; expected a subset of '
                             f'{DENSEPOSE_MODES}')
    if eval_data is None and any(m in _GEODESIC_MODES for m in modes):
        dropped = [m for m in modes if m in _GEODESIC_MODES]
        print_log(f'DensePose evaluation: no geodesic data, {"/".join(dropped)} not reported; '
                  'reporting IOU', logger='current', level=30)
        modes = [m for m in modes if m not in _GEODESIC_MODES]
        if 'IOU' not in modes:
            modes.append('IOU')
    return modes


def _best(d_list: List[_Dt], max_dets: int) -> List[_Dt]:
    """The ``max_dets`` best-scored detections, best first (stable)."""
    order = np.argsort([-d.score for d in d_list], kind='mergesort')[:max_dets]
    return [d_list[i] for i in order]


def _group_results(results: Sequence[dict], imgs: Dict[int, dict], eval_imgs: set,
                   cat_ids: set, source: str, results_source: str,
                   logger: str) -> Dict[tuple, List[_Dt]]:
    """Results of the evaluated images by (image, category), in results
    order; unknown images and categories are counted and logged."""
    dts: Dict[tuple, List[_Dt]] = defaultdict(list)
    unknown_img = unknown_cat = 0
    bad_cats = set()
    for index, res in enumerate(results):
        if not isinstance(res, dict) or 'image_id' not in res:
            raise ValueError(f'{results_source}: result {index} is not a dict with an '
                             '"image_id"')
        iid = res['image_id']
        if iid not in imgs:
            unknown_img += 1
            continue
        if iid not in eval_imgs:
            continue
        cat = res.get('category_id')
        if cat not in cat_ids:
            unknown_cat += 1
            if len(bad_cats) < 5:
                bad_cats.add(repr(cat))
            continue
        dts[iid, cat].append(_Dt(res, index, results_source))
    if unknown_img:
        print_log(f'DensePose evaluation: skipped {unknown_img} results whose image_id is not '
                  f'in {source}', logger=logger, level=30)
    if unknown_cat:
        print_log(f'DensePose evaluation: skipped {unknown_cat} results whose category_id '
                  f'({", ".join(sorted(bad_cats))}) is not in the categories of {source} '
                  f'{sorted(cat_ids)}', logger=logger, level=30)
    return dts


def _match_groups(groups: List[tuple], gts: Dict[tuple, List[_Gt]],
                  dts: Dict[tuple, List[_Dt]], wait_for: Callable[[tuple], None],
                  points: Dict[tuple, _GroupPoints], per_image: dict, modes: List[str],
                  eval_data: Optional[DensePoseEvalData], bar: Optional[ProgressBar]) -> None:
    """Similarities and matching of every (category, image) group, all
    modes and area ranges at once; appends to ``per_image``."""
    need_gps = any(m in _GEODESIC_MODES for m in modes)
    need_mask = any(m in ('GPSm', 'IOU') for m in modes)
    for k, cat, iid in groups:
        wait_for((iid, cat))
        g_list, d_list = gts.get((iid, cat), []), dts.get((iid, cat), [])
        if bar is not None:
            bar.update()
        if not g_list and not d_list:
            for m in modes:
                for a in range(len(AREA_RNGS)):
                    per_image[m][a][k].append(None)
            continue
        sims = {}
        if need_gps:
            sims['GPS'] = _gps_matrix(d_list, len(g_list), points[iid, cat], eval_data) \
                if d_list else np.zeros((0, len(g_list)))
        if need_mask:
            if d_list and g_list:
                miou = mask_iou_from_intersections(
                    [d.mask_area for d in d_list], [g.mask().area if g.mask_area is None
                                                     else g.mask_area for g in g_list],
                    np.stack([d.inter for d in d_list]), [g.crowd for g in g_list])
            else:
                miou = np.zeros((len(d_list), len(g_list)))
            sims['IOU'] = miou
        if 'GPSm' in modes:
            sims['GPSm'] = np.sqrt(sims['IOU'] * sims['GPS'])
        box = _box_iou(d_list, g_list)
        crowd = np.array([g.crowd for g in g_list], dtype=bool)
        base_ignore = np.array([g.ignore for g in g_list], dtype=bool)
        areas = np.array([g.area for g in g_list])
        scores = np.array([d.score for d in d_list])
        dt_area = np.array([d.area for d in d_list])
        # every mode and area range matched at once (shared greedy loop)
        combos = [(a, m) for a in range(len(AREA_RNGS)) for m in modes]
        ignores, orders = [], []
        for rng in AREA_RNGS:
            ig = base_ignore | (areas < rng[0]) | (areas > rng[1])
            order = np.argsort(ig, kind='mergesort')
            ignores.append(ig[order])
            orders.append(order)
        dtm, dt_ig = match_images(
            np.stack([sims[m][:, orders[a]] for a, m in combos]),
            np.stack([box[:, orders[a]] for a, _ in combos]),
            np.stack([ignores[a] for a, _ in combos]),
            np.stack([crowd[orders[a]] for a, _ in combos]), dt_area,
            [AREA_RNGS[a] for a, _ in combos])
        for row, (a, m) in enumerate(combos):
            per_image[m][a][k].append(dict(dt_matched=dtm[row], dt_ignore=dt_ig[row],
                                           gt_ignore=ignores[a], scores=scores))


def _export_chunk(chunk: List[tuple], dts: Dict[tuple, List['_Dt']],
                  gts: Dict[tuple, List[_Gt]], need_mask: bool) -> list:
    """What a worker process sends back for a prepared chunk: per group,
    the kept detections (result index, mask area, intersections, samples)
    in order and the ground-truth mask areas (None where masks are not
    used)."""
    out = []
    for key in chunk:
        kept = [(d.index, d.mask_area, d.inter, d.samples) for d in dts[key]]
        areas = [g.mask_area for g in gts.get(key, [])] if need_mask else None
        out.append((kept, areas))
    return out


def _apply_child_chunk(chunk: List[tuple], data: list, dts: Dict[tuple, List['_Dt']],
                       gts: Dict[tuple, List[_Gt]]) -> None:
    """Store what :func:`_export_chunk` returned (in a worker process) in
    this process's detections and ground truth."""
    for key, (kept, areas) in zip(chunk, data):
        by_index = {d.index: d for d in dts[key]}
        new = []
        for index, mask_area, inter, samples in kept:
            d = by_index[index]
            d.mask_area, d.inter, d.samples = mask_area, inter, samples
            new.append(d)
        dts[key] = new
        if areas is not None:
            for g, area in zip(gts.get(key, []), areas):
                g.mask_area = area


def fork_available() -> bool:
    """Whether worker processes can be forked here (Linux)."""
    return sys.platform.startswith('linux') and 'fork' in mp.get_all_start_methods()


def evaluate(gt: dict, results: Sequence[dict], modes: Sequence[str] = DENSEPOSE_MODES,
             eval_data: Optional[DensePoseEvalData] = None,
             img_ids: Optional[Sequence[int]] = None, gps_kappa: Optional[float] = None,
             max_dets: int = MAX_DETS, show_progress: bool = True, source: str = '<gt>',
             logger: str = 'current', validate: bool = True,
             skip_invalid: bool = False, results_source: str = '<results>',
             workers: Optional[int] = None, processes: bool = False) -> Dict[str, float]:
    """Evaluate DensePose results with the COCO DensePose protocol.

    Args:
        gt (dict): DensePose-COCO ground truth (``images``, ``annotations``,
            ``categories``).
        results (Sequence[dict]): challenge-format results: ``image_id``,
            ``category_id``, ``bbox`` (x, y, w, h), ``score`` and either
            ``uv_data`` (base64 PNG, with ``uv_shape``) or ``iuv`` (3, h, w)
            uint8 array (I, U*255, V*255 over the box, anchored at
            ``(int(x), int(y))``).
        modes (Sequence[str]): subset of ``('GPS', 'GPSm', 'IOU')``. Without
            ``eval_data`` GPS and GPSm are dropped and IOU is reported.
        eval_data (DensePoseEvalData, optional): geodesic data.
        img_ids (Sequence[int], optional): images to evaluate; default all
            images of ``gt``.
        gps_kappa (float, optional): one GPS normalisation for all points
            (0.255 = 2018 challenge); None = per-part (current protocol).
        max_dets (int): detections per image and category.
        show_progress (bool): show a progress bar for more than 500 images.
        source (str): name of the ground truth in messages.
        logger (str): mmengine logger name.
        validate (bool): check the ground truth first with
            :func:`~mmdensekd.datasets.densepose_validation.validate_densepose_gt`
            (the dataset's checks: unique image ids, known categories, finite
            non-empty boxes, DensePose ranges, 14 well-formed RLE masks), so a
            malformed file gives an error naming it and the ids instead of a
            hang or a wrong number. False when the caller validated already.
        skip_invalid (bool): with ``validate``, drop and count (log) invalid
            ground truth instead of raising; ``gt`` is not modified.
        results_source (str): name of the results in messages (a chart that
            cannot be decoded is an error naming it, the result index and
            the image).
        workers (int, optional): threads (with ``processes``: processes,
            this one included) that decode charts and resize ground-truth
            masks (default :func:`default_workers`; 1 = this thread only).
            The numbers do not depend on it.
        processes (bool): with ``workers > 1``, prepare the groups in this
            process and ``workers - 1`` forked worker processes instead of
            threads (no shared interpreter lock: faster where the CPUs are
            free; see :class:`SharedChunks`; Linux only, else threads). Use
            it in a process that runs no other threads (e.g. the offline
            command), not inside training. The numbers do not depend on it.

    Results of images absent from the ground truth, and results of a
    ``category_id`` not in its ``categories``, are skipped, counted and
    logged (a warning).

    Returns:
        dict: ``'{mode}_{stat}'`` for the ten stats of each mode
        (``GPS_AP``, ``GPSm_AP50``, ``IOU_ARl``...), -1 where undefined.
    """
    tic = time.time()
    if validate:
        gt = dict(gt, images=list(gt.get('images', [])),
                  annotations=list(gt.get('annotations', [])))
        # the DensePose fields of all annotations checked in one pass; only
        # when that fails are they parsed one by one (the error or skip)
        report = validate_densepose_gt(
            gt, source, skip_invalid=skip_invalid,
            check_densepose=not densepose_fields_valid(gt['annotations']))
        if report.total:
            print_log(report.summary(source), logger=logger, level=30)
    modes = _resolve_modes(modes, eval_data)
    need_gps = any(m in _GEODESIC_MODES for m in modes)
    need_mask = any(m in ('GPSm', 'IOU') for m in modes)
    imgs = {img['id']: img for img in gt.get('images', [])}
    cat_ids = sorted(c['id'] for c in gt.get('categories', []))
    img_ids = sorted(set(imgs) if img_ids is None else set(img_ids) & set(imgs))
    eval_imgs = set(img_ids)

    regions: Dict[int, Optional[np.ndarray]] = {}
    gts: Dict[tuple, List[_Gt]] = defaultdict(list)
    for ann in gt.get('annotations', []):
        iid = ann['image_id']
        if iid not in eval_imgs or ann.get('category_id') not in cat_ids:
            continue
        if iid not in regions:
            regions[iid] = ignore_region_mask(imgs[iid])
        if not keep_outside_ignore(ann['bbox'], regions[iid]):
            continue
        gts[iid, ann['category_id']].append(
            _Gt(ann, imgs[iid], eval_data if need_gps else None, gps_kappa, source))
    if need_gps:
        _assign_vertices([g for group in gts.values() for g in group], eval_data)
    bad_points = sum(g.num_bad_points for group in gts.values() for g in group)
    if bad_points:
        print_log(f'DensePose evaluation: {bad_points} ground-truth points with a part label '
                  'outside 1..24 (or on a part without mesh vertices) are left out of GPS',
                  logger=logger, level=30)

    workers = default_workers() if workers is None else max(1, int(workers))
    dts = _group_results(results, imgs, eval_imgs, set(cat_ids), source, results_source,
                         logger)
    points = {key: _GroupPoints(gts.get(key, [])) for key in dts} if need_gps else {}

    def prepare_groups(keys: List[tuple]) -> None:
        """Resize the groups' ground-truth masks, read their charts (once,
        reduced to what matching uses) and keep the best ``max_dets``."""
        for key in keys:
            region = regions.get(key[0])
            # the ignore-region filter reads every chart of the image first
            d_list = dts[key] if region is not None else _best(dts[key], max_dets)
            g_list = gts.get(key, [])
            masks = [g.mask() for g in g_list] if need_mask else None
            img = imgs[key[0]]
            _prepare_group(d_list, points.get(key), masks, [g.crowd for g in g_list], region,
                           (int(img['height']), int(img['width'])), modes)
            dts[key] = _best([d for d in d_list if d.keep], max_dets)

    # Groups are prepared in chunks, on worker threads (chart decoding and
    # mask resizing release the GIL) or shared with forked worker processes
    # (``processes``), while this thread matches the groups already
    # prepared, in protocol order.
    group_keys = [(iid, cat) for cat in cat_ids for iid in img_ids if (iid, cat) in dts]
    chunks = [group_keys[i:i + 32] for i in range(0, len(group_keys), 32)]
    chunk_of = {key: n for n, chunk in enumerate(chunks) for key in chunk}
    use_pool = workers > 1 and len(chunks) > 1
    shared = pool = None
    if use_pool and processes and fork_available():
        # this process and workers - 1 forked ones share the chunks
        shared = SharedChunks(
            len(chunks), lambda n: prepare_groups(chunks[n]),
            lambda n: _export_chunk(chunks[n], dts, gts, need_mask),
            lambda n, data: _apply_child_chunk(chunks[n], data, dts, gts), workers - 1)
        pending = [None] * len(chunks)
    elif use_pool:
        pool = ThreadPoolExecutor(workers)
        pending = [pool.submit(prepare_groups, chunk) for chunk in chunks]
    else:
        pending = [None] * len(chunks)
    ready = [False] * len(chunks)

    def wait_for(key: tuple) -> None:
        n = chunk_of.get(key)
        if n is None or ready[n]:
            return
        if shared is not None:
            shared.wait(n)
        elif pending[n] is None:
            prepare_groups(chunks[n])
        else:
            pending[n].result()
        ready[n] = True
        if need_gps:  # mesh vertices of the chunk's samples in one batch
            sampled = [d for key in chunks[n] for d in dts[key] if d.samples is not None]
            if sampled:
                verts = eval_data.closest_vertices_quantized(
                    *np.concatenate([d.samples for d in sampled], axis=1))
                ends = np.cumsum([d.samples.shape[1] for d in sampled])
                for d, end, size in zip(sampled, ends, [d.samples.shape[1] for d in sampled]):
                    d.dverts = verts[end - size:end]

    # per_image[mode][area] -> list over (cat, img) in protocol order
    per_image = {m: [[[] for _ in cat_ids] for _ in AREA_RNGS] for m in modes}
    groups = [(k, c, i) for k, c in enumerate(cat_ids) for i in img_ids]
    bar = ProgressBar(len(groups)) if show_progress and len(img_ids) > 500 else None
    try:
        _match_groups(groups, gts, dts, wait_for, points, per_image, modes, eval_data, bar)
    finally:
        if pool is not None:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
        if shared is not None:
            shared.close()
    if bar is not None:
        print()

    out: Dict[str, float] = {}
    for m in modes:
        precision = -np.ones((len(IOU_THRS), len(REC_THRS), len(cat_ids), len(AREA_RNGS)))
        recall = -np.ones((len(IOU_THRS), len(cat_ids), len(AREA_RNGS)))
        for a in range(len(AREA_RNGS)):
            for k in range(len(cat_ids)):
                acc = accumulate(per_image[m][a][k], max_det=max_dets)
                precision[:, :, k, a] = acc['precision']
                recall[:, k, a] = acc['recall']
        stats = summarize(precision, recall)
        out.update({f'{m}_{name}': value for name, value in stats.items()})
    print_log(format_summary(out, modes) + f'\nDensePose evaluation of {len(img_ids)} images '
              f'done in {time.time() - tic:.2f}s', logger=logger)
    return out


def format_summary(stats: Dict[str, float], modes: Sequence[str]) -> str:
    """A COCO-style text table of :func:`evaluate`'s numbers."""
    lines = []
    for m in modes:
        for name in STAT_NAMES:
            kind = 'Average Precision' if name.startswith('AP') else 'Average Recall'
            tail = name[2:]
            thr = {'50': '0.50', '75': '0.75'}.get(tail, '0.50:0.95')
            area = {'m': AREA_LABELS[1], 'l': AREA_LABELS[2]}.get(tail, AREA_LABELS[0])
            lines.append(f' {m:<4} {kind:<18} ({name[:2]}) @[ {thr:<9} | area={area:>6s} | '
                         f'maxDets={MAX_DETS:>3d} ] = {stats[f"{m}_{name}"]:0.3f}')
    return '\n'.join(lines)
