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

Deviations: U, V of predictions are the uint8 values of the results format
(our charts are rounded to uint8, detectron2's in-memory results truncate);
nearest vertices are found with a k-d tree over 4 candidates and exact
distances (ties beyond 4 equidistant vertices may differ); a negative box
origin is clipped to 0 in the ignore-region test; results for images absent
from the ground truth are skipped and counted rather than rejected.
"""
import time
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from pycocotools import mask as mask_utils

from mmdensekd.datasets.densepose_validation import validate_densepose_gt
from mmdensekd.structures import decode_iuv_png

from .densepose_eval_data import DensePoseEvalData, gps_normalisation
from .densepose_masks import (
    PlacedMask,
    dp_masks_to_box_mask,
    ignore_region_mask,
    keep_outside_ignore,
    mask_iou_matrix,
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
    match_image,
    summarize,
)

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
        return self._mask


class _Dt:
    """One detection of the results list (its IUV decoded lazily)."""

    def __init__(self, res: dict, index: int) -> None:
        self.res = res
        self.index = index
        try:
            self.bbox = [float(c) for c in res['bbox']]
            self.score = float(res['score'])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f'result {index} (image {res.get("image_id")}): needs a "bbox" '
                             f'of 4 numbers and a numeric "score" ({err!r})') from None
        if len(self.bbox) != 4 or not np.all(np.isfinite(self.bbox + [self.score])):
            raise ValueError(f'result {index} (image {res.get("image_id")}): bbox '
                             f'{self.bbox} / score {self.score} must be 4 + 1 finite numbers')
        self.area = self.bbox[2] * self.bbox[3]
        self._iuv: Optional[np.ndarray] = None

    @property
    def iuv(self) -> np.ndarray:
        if self._iuv is None:
            if 'iuv' in self.res:
                iuv = np.asarray(self.res['iuv'])
            elif 'uv_data' in self.res:
                iuv = decode_iuv_png(self.res['uv_data'])
            else:
                raise KeyError(f'result {self.index} (image {self.res.get("image_id")}) has '
                               'neither "uv_data" nor "iuv"')
            shape = self.res.get('uv_shape')
            if iuv.ndim != 3 or iuv.shape[0] != 3 or (shape is not None
                                                      and list(iuv.shape) != list(shape)):
                raise ValueError(f'result {self.index} (image {self.res.get("image_id")}): IUV '
                                 f'of shape {iuv.shape}, uv_shape says {shape}')
            self._iuv = iuv
        return self._iuv


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


def _gps_matrix(dts: List[_Dt], gts: List[_Gt], eval_data: DensePoseEvalData) -> np.ndarray:
    """(D, G) GPS of every detection against every non-ignored ground truth."""
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
    px = (gx[None, :] - boxes[:, :1]).astype(np.int64)  # (D, P)
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
    return _gps_matrix(dts, gts, eval_data)


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


def evaluate(gt: dict, results: Sequence[dict], modes: Sequence[str] = DENSEPOSE_MODES,
             eval_data: Optional[DensePoseEvalData] = None,
             img_ids: Optional[Sequence[int]] = None, gps_kappa: Optional[float] = None,
             max_dets: int = MAX_DETS, show_progress: bool = True, source: str = '<gt>',
             logger: str = 'current', validate: bool = True,
             skip_invalid: bool = False) -> Dict[str, float]:
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

    Returns:
        dict: ``'{mode}_{stat}'`` for the ten stats of each mode
        (``GPS_AP``, ``GPSm_AP50``, ``IOU_ARl``...), -1 where undefined.
    """
    tic = time.time()
    if validate:
        gt = dict(gt, images=list(gt.get('images', [])),
                  annotations=list(gt.get('annotations', [])))
        report = validate_densepose_gt(gt, source, skip_invalid=skip_invalid)
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

    dts: Dict[tuple, List[_Dt]] = defaultdict(list)
    unknown = 0
    for index, res in enumerate(results):
        iid = res['image_id']
        if iid not in imgs:
            unknown += 1
            continue
        if iid not in eval_imgs:
            continue
        dt = _Dt(res, index)
        if iid in regions and regions[iid] is not None and not keep_outside_ignore(
                dt.bbox, regions[iid], fg=dt.iuv[0]):
            continue
        dts[iid, res['category_id']].append(dt)
    if unknown:
        print_log(f'DensePose evaluation: skipped {unknown} results whose image_id is not in '
                  f'{source}', logger=logger, level=30)

    # per_image[mode][area] -> list over (cat, img) in protocol order
    per_image = {m: [[[] for _ in cat_ids] for _ in AREA_RNGS] for m in modes}
    groups = [(k, c, i) for k, c in enumerate(cat_ids) for i in img_ids]
    bar = ProgressBar(len(groups)) if show_progress and len(img_ids) > 500 else None
    for k, cat, iid in groups:
        g_list, d_list = gts.get((iid, cat), []), dts.get((iid, cat), [])
        if bar is not None:
            bar.update()
        if not g_list and not d_list:
            for m in modes:
                for a in range(len(AREA_RNGS)):
                    per_image[m][a][k].append(None)
            continue
        order = np.argsort([-d.score for d in d_list], kind='mergesort')[:max_dets]
        d_list = [d_list[i] for i in order]
        gps = _gps_matrix(d_list, g_list, eval_data) if need_gps else None
        miou = None
        if need_mask and d_list and g_list:
            h, w = int(imgs[iid]['height']), int(imgs[iid]['width'])
            dmasks = [place_mask(d.iuv[0] > 0, d.bbox, h, w) for d in d_list]
            miou = mask_iou_matrix(dmasks, [g.mask() for g in g_list],
                                   [g.crowd for g in g_list])
        elif need_mask:
            miou = np.zeros((len(d_list), len(g_list)))
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
                r = match_image(sims[m][:, gorder], box[:, gorder], ig[gorder], crowd[gorder],
                                dt_area, rng)
                r['scores'] = scores
                per_image[m][a][k].append(r)
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
