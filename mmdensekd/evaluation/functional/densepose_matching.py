# Copyright (c) mmdensekd contributors. All rights reserved.
"""Greedy matching, accumulation and summary of the COCO DensePose protocol.

The rules are those of the COCO DensePose evaluation (a cocoeval variant):
detections, best score first, take the best still-free ground truth whose
similarity reaches the threshold, regular ground truth before ignored ground
truth (ties: the later one in the ignore-sorted order); detections left
unmatched at the strictest threshold fall back to box IoU >= 0.8 to inherit
the ignore flag; images whose ground truth is all ignored (or absent) ignore
all their detections. Here the matching runs over all thresholds at once.

Shapes: D detections, G ground truths, T thresholds, R recall thresholds.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: Similarity thresholds 0.5:0.05:0.95.
IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: Recall thresholds 0:0.01:1.
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
#: Area ranges (all, medium, large) and their labels.
AREA_RNGS = ((0**2, 1e5**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LABELS = ('all', 'medium', 'large')
MAX_DETS = 20
#: Box IoU above which an unmatched detection inherits a ground truth's flag.
BOX_FALLBACK_IOU = 0.8
#: Summary items, in the protocol's order.
STAT_NAMES = ('AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl')


def _last_argmax(values: np.ndarray) -> np.ndarray:
    """Index of the last maximum along the last axis."""
    return values.shape[-1] - 1 - np.argmax(values[..., ::-1], axis=-1)


def match_image(sim: np.ndarray, box_iou: np.ndarray, gt_ignore: np.ndarray,
                gt_crowd: np.ndarray, dt_area: np.ndarray, area_rng: Sequence[float],
                thrs: np.ndarray = IOU_THRS) -> Dict[str, np.ndarray]:
    """Match the detections of one image and category.

    Ground truths must already be in the protocol's order (regular first,
    stable) and detections best score first.

    Args:
        sim (np.ndarray): (D, G) similarity (GPS, GPSm or mask IoU).
        box_iou (np.ndarray): (D, G) box IoU (crowd: over the detection box).
        gt_ignore (np.ndarray): (G,) bool ignore flags for this area range.
        gt_crowd (np.ndarray): (G,) bool crowd flags.
        dt_area (np.ndarray): (D,) detection areas.
        area_rng (Sequence[float]): (lo, hi) area range.
        thrs (np.ndarray): (T,) similarity thresholds.

    Returns:
        dict: ``dt_matched`` (T, D) bool, ``dt_ignore`` (T, D) bool and
        ``gt_ignore`` (G,) bool.
    """
    sim = np.asarray(sim, dtype=np.float64)
    dtm, dt_ig = match_images(sim[None], np.asarray(box_iou, dtype=np.float64)[None],
                              np.asarray(gt_ignore, dtype=bool).reshape(1, -1),
                              np.asarray(gt_crowd, dtype=bool).reshape(1, -1), dt_area,
                              [area_rng], thrs)
    return dict(dt_matched=dtm[0], dt_ignore=dt_ig[0],
                gt_ignore=np.asarray(gt_ignore, dtype=bool))


def match_images(sim: np.ndarray, box_iou: np.ndarray, gt_ignore: np.ndarray,
                 gt_crowd: np.ndarray, dt_area: np.ndarray, area_rngs: Sequence[Sequence[float]],
                 thrs: np.ndarray = IOU_THRS) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`match_image` for K independent matchings of the same
    detections at once (e.g. every mode and area range of one image), so
    the greedy loop over detections runs once.

    Shapes: K matchings, D detections (best score first, shared), G ground
    truths (each matching in its own protocol order), T thresholds.

    Args:
        sim (np.ndarray): (K, D, G) similarities.
        box_iou (np.ndarray): (K, D, G) box IoUs (columns in each
            matching's order).
        gt_ignore (np.ndarray): (K, G) bool ignore flags.
        gt_crowd (np.ndarray): (K, G) bool crowd flags.
        dt_area (np.ndarray): (D,) detection areas.
        area_rngs (Sequence): K (lo, hi) area ranges.
        thrs (np.ndarray): (T,) similarity thresholds.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``dt_matched`` and ``dt_ignore``,
        each (K, T, D) bool.
    """
    num_k, num_d, num_g = sim.shape
    num_t = len(thrs)
    dtm = np.zeros((num_k, num_t, num_d), dtype=bool)
    gtm = np.zeros((num_k, num_t, num_g), dtype=bool)
    dt_ig = np.zeros((num_k, num_t, num_d), dtype=bool)
    dt_ig[gt_ignore.all(axis=1)] = True  # also with no ground truth at all
    if num_d and num_g:
        thr = np.minimum(thrs, 1 - 1e-10)[None, :, None]
        crowd = gt_crowd[:, None, :]
        ignore = gt_ignore[:, None, :]
        # only detections reaching the lowest threshold somewhere can match
        for d in np.nonzero(((sim >= thr.min()) & (sim > 0)).any(axis=2).any(axis=0))[0]:
            s = sim[:, d][:, None, :]  # (K, 1, G)
            cand = (~gtm | crowd) & (s >= thr) & (s > 0)
            regular = cand & ~ignore
            use = np.where(regular.any(axis=2, keepdims=True), regular, cand)
            hit = use.any(axis=2)
            if not hit.any():
                continue
            m = _last_argmax(np.where(use, s, -np.inf))
            k_hit, t_hit = np.nonzero(hit)
            m_hit = m[k_hit, t_hit]
            dt_ig[k_hit, t_hit, d] = gt_ignore[k_hit, m_hit]
            dtm[k_hit, t_hit, d] = True
            gtm[k_hit, t_hit, m_hit] = True
        # Box fallback, evaluated with the matches of the last threshold.
        last = num_t - 1
        box_hit = box_iou >= BOX_FALLBACK_IOU
        for d in np.nonzero(box_hit.any(axis=2).any(axis=0))[0]:
            cand = (~gtm[:, last] | gt_crowd) & box_hit[:, d]  # (K, G)
            rows = np.nonzero(~dtm[:, last, d] & cand.any(axis=1))[0]
            if len(rows) == 0:
                continue
            m = _last_argmax(np.where(cand[rows], box_iou[rows, d], -np.inf))
            flag = gt_ignore[rows, m]
            dt_ig[rows, :, d] = flag[:, None]
            dtm[rows[flag], last, d] = True
            gtm[rows[flag], last, m[flag]] = True
    dt_area = np.asarray(dt_area, dtype=np.float64).reshape(1, 1, -1)
    rngs = np.asarray(area_rngs, dtype=np.float64).reshape(num_k, 1, 2)
    outside = (dt_area < rngs[..., :1]) | (dt_area > rngs[..., 1:])
    dt_ig |= ~dtm & outside
    return dtm, dt_ig


def accumulate(per_image: List[Optional[Dict[str, np.ndarray]]], max_det: int = MAX_DETS,
               thrs: np.ndarray = IOU_THRS,
               rec_thrs: np.ndarray = REC_THRS) -> Dict[str, np.ndarray]:
    """Precision / recall of one category and area range over all images.

    Args:
        per_image (list[dict | None]): :func:`match_image` outputs in image
            order, each with ``scores`` (D,) added; None for images without
            detections and ground truth.
        max_det (int): detections per image considered.
        thrs (np.ndarray): (T,) similarity thresholds.
        rec_thrs (np.ndarray): (R,) recall thresholds.

    Returns:
        dict: ``precision`` (T, R) and ``recall`` (T,), -1 where the ground
        truth is all ignored.
    """
    num_t = len(thrs)
    precision = -np.ones((num_t, len(rec_thrs)))
    recall = -np.ones(num_t)
    items = [e for e in per_image if e is not None]
    if not items:
        return dict(precision=precision, recall=recall)
    scores = np.concatenate([e['scores'][:max_det] for e in items])
    order = np.argsort(-scores, kind='mergesort')
    dtm = np.concatenate([e['dt_matched'][:, :max_det] for e in items], axis=1)[:, order]
    dt_ig = np.concatenate([e['dt_ignore'][:, :max_det] for e in items], axis=1)[:, order]
    num_pos = int(np.count_nonzero(~np.concatenate([e['gt_ignore'] for e in items])))
    if num_pos == 0:
        return dict(precision=precision, recall=recall)
    tp = np.cumsum(dtm & ~dt_ig, axis=1).astype(np.float64)
    fp = np.cumsum(~dtm & ~dt_ig, axis=1).astype(np.float64)
    num_d = tp.shape[1]
    precision[:] = 0
    if num_d == 0:
        recall[:] = 0
        return dict(precision=precision, recall=recall)
    rc = tp / num_pos
    pr = tp / (fp + tp + np.spacing(1))
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # precision envelope
    recall[:] = rc[:, -1]
    for t in range(num_t):
        idx = np.searchsorted(rc[t], rec_thrs, side='left')
        ok = idx < num_d
        precision[t, ok] = pr[t, idx[ok]]
    return dict(precision=precision, recall=recall)


def summarize(precision: np.ndarray, recall: np.ndarray,
              thrs: np.ndarray = IOU_THRS) -> Dict[str, float]:
    """The ten summary numbers of one mode.

    Args:
        precision (np.ndarray): (T, R, K, A) precision, areas in
            :data:`AREA_LABELS` order.
        recall (np.ndarray): (T, K, A) recall.
        thrs (np.ndarray): (T,) similarity thresholds.

    Returns:
        dict: :data:`STAT_NAMES` -> value (-1 when undefined).
    """

    def mean(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(np.mean(valid)) if valid.size else -1.0

    def at(thr: Optional[float]) -> np.ndarray:
        return np.arange(len(thrs)) if thr is None else np.nonzero(np.abs(thrs - thr) < 1e-3)[0]

    out = {}
    for prefix, arr in (('AP', precision), ('AR', recall)):
        last = arr.ndim - 1  # area axis
        out[prefix] = mean(np.take(arr, 0, axis=last))
        out[prefix + '50'] = mean(np.take(arr, 0, axis=last)[at(0.5)])
        out[prefix + '75'] = mean(np.take(arr, 0, axis=last)[at(0.75)])
        out[prefix + 'm'] = mean(np.take(arr, 1, axis=last))
        out[prefix + 'l'] = mean(np.take(arr, 2, axis=last))
    return {k: out[k] for k in STAT_NAMES}
