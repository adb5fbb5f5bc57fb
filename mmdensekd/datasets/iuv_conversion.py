# Copyright (c) mmdensekd contributors. All rights reserved.
"""Turn dense IUV maps into DensePose-COCO annotations.

Two sources of IUV maps are supported:

* the COCO DensePose challenge results format: one entry per detection with
  ``bbox`` (xywh) and ``uv_data``, a base64 PNG of the box-sized IUV map
  (channel 0 = fine part I in 0..24, channels 1, 2 = U, V scaled to 0..255);
* a full-image IUV image (read with OpenCV, channel 0 = I) with a per-pixel
  instance index image (0 = background, k = instance k), as written by the
  DensePose R-CNN inference tools.

Each instance becomes the DensePose fields of a DensePose-COCO annotation
(the DensePose-COCO point format), expressed in the frame of a target box (the instance's own
box, or the box of a matched ground-truth person):

* ``dp_x``, ``dp_y``: pixel centres in the 256x256 box frame
  (``x_img = x0 + dp_x * w / 256``), about ``num_points`` points spread over
  the parts present (proportional to part area, at least ``min_per_part``
  per part);
* ``dp_I`` (1..24), ``dp_U``, ``dp_V`` (in [0, 1]) read at those pixels;
* ``dp_masks``: 14 coarse-part RLEs of the 256x256 box frame, ``[]`` for an
  absent part.

Shape legend: ``h, w`` source map size, ``S = 256`` the box-frame size.
"""
import json
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_util
from mmengine.logging import print_log

from mmdensekd.structures import DP_BOX_SIZE, FINE_TO_COARSE, NUM_COARSE_PARTS

__all__ = [
    'resample_iuv', 'sample_dp_points', 'coarse_masks_to_rle', 'iuv_to_dp_fields',
    'load_challenge_results', 'instances_from_iuv_image', 'box_iou_xywh',
    'instances_to_annotations', 'merge_instances_into_coco'
]

_FINE_TO_COARSE = np.asarray(FINE_TO_COARSE, dtype=np.uint8)


def _check_iuv(iuv: np.ndarray, name: str) -> np.ndarray:
    iuv = np.asarray(iuv)
    if iuv.ndim != 3 or iuv.shape[0] != 3 or iuv.shape[1] == 0 or iuv.shape[2] == 0:
        raise ValueError(f'{name}: expected a (3, h, w) IUV map, got shape {iuv.shape}')
    if iuv.dtype != np.uint8:
        raise ValueError(f'{name}: expected a uint8 IUV map, got {iuv.dtype}')
    if iuv[0].max() > 24:
        raise ValueError(f'{name}: part index I must be in 0..24, found {int(iuv[0].max())}')
    return iuv


def resample_iuv(iuv: np.ndarray,
                 src_box: Sequence[float],
                 dst_box: Optional[Sequence[float]] = None,
                 size: int = DP_BOX_SIZE) -> np.ndarray:
    """Resample an IUV map covering ``src_box`` into the S x S frame of ``dst_box``.

    Nearest neighbour for all channels (part labels must not be blended and
    U, V are only meaningful within a part): the pixel centre of every
    destination cell is mapped into the image and then into the source map,
    whose pixel ``(r, c)`` covers image ``[x0 + c, x0 + c + 1) x
    [y0 + r, y0 + r + 1)`` (box-sized maps with ``w, h`` pixels; other sizes
    are scaled). Cells falling outside the source map are background.

    Args:
        iuv (np.ndarray): (3, h, w) uint8 IUV map over ``src_box``.
        src_box (Sequence[float]): xywh box the map covers, in the image.
        dst_box (Sequence[float], optional): xywh box of the output frame.
            Defaults to ``src_box``.
        size (int): Output side S.

    Returns:
        np.ndarray: (3, S, S) uint8 IUV map in the ``dst_box`` frame.
    """
    iuv = _check_iuv(iuv, 'resample_iuv')
    dst_box = src_box if dst_box is None else dst_box
    _, h, w = iuv.shape
    sx0, sy0, sw, sh = [float(v) for v in src_box]
    dx0, dy0, dw, dh = [float(v) for v in dst_box]
    if sw <= 0 or sh <= 0 or dw <= 0 or dh <= 0:
        raise ValueError(f'resample_iuv: boxes need a positive size, got src {src_box}, '
                         f'dst {dst_box}')
    centres = np.arange(size, dtype=np.float64) + 0.5
    # destination cell centre -> image -> source pixel (scaled if the map is
    # not box-sized)
    src_c = np.floor((dx0 + centres * dw / size - sx0) * w / sw).astype(np.int64)
    src_r = np.floor((dy0 + centres * dh / size - sy0) * h / sh).astype(np.int64)
    valid_c = (src_c >= 0) & (src_c < w)
    valid_r = (src_r >= 0) & (src_r < h)
    out = iuv[:, np.clip(src_r, 0, h - 1)[:, None], np.clip(src_c, 0, w - 1)[None, :]]
    out = out.copy()
    out[:, ~(valid_r[:, None] & valid_c[None, :])] = 0
    out[1:, out[0] == 0] = 0
    return out


def chart_box_xywh(box_xyxy: Sequence[float], iuv: np.ndarray) -> List[float]:
    """The image region a predicted chart covers.

    A :class:`~mmdensekd.structures.DensePoseChartResults` chart of box
    ``(x0, y0, x1, y1)`` is ``h x w`` pixels anchored at ``(int(x0),
    int(y0))`` (the DensePose results convention).

    Args:
        box_xyxy (Sequence[float]): The predicted box.
        iuv (np.ndarray): (3, h, w) chart of that box.

    Returns:
        list[float]: xywh of the chart in the image.
    """
    return [int(box_xyxy[0]), int(box_xyxy[1]), iuv.shape[2], iuv.shape[1]]


def sample_dp_points(iuv_box: np.ndarray,
                     num_points: int = 100,
                     min_per_part: int = 3,
                     rng: Optional[np.random.Generator] = None) -> Dict[str, List[float]]:
    """Sample annotation points from a box-frame IUV map.

    Every part present gets ``max(min_per_part, round(num_points * area /
    total_area))`` points (at most its pixel count), drawn without
    replacement from its pixels.

    Args:
        iuv_box (np.ndarray): (3, S, S) uint8 IUV map in the box frame.
        num_points (int): Approximate number of points per instance.
        min_per_part (int): Minimum points per present part.
        rng (np.random.Generator, optional): Random generator (seeded by the
            caller for reproducible output). Defaults to ``default_rng(0)``.

    Returns:
        dict: ``dp_x``, ``dp_y`` (pixel centres, 0..S), ``dp_I`` (1..24),
        ``dp_U``, ``dp_V`` (in [0, 1]) lists of equal length, grouped by part.
    """
    iuv_box = _check_iuv(iuv_box, 'sample_dp_points')
    rng = np.random.default_rng(0) if rng is None else rng
    labels = iuv_box[0]
    parts, areas = np.unique(labels[labels > 0], return_counts=True)
    out: Dict[str, List[float]] = {k: [] for k in ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')}
    if len(parts) == 0:
        return out
    total = float(areas.sum())
    for part, area in zip(parts.tolist(), areas.tolist()):
        count = min(area, max(min_per_part, int(round(num_points * area / total))))
        ys, xs = np.nonzero(labels == part)
        pick = rng.choice(len(ys), size=count, replace=False)
        pick.sort()
        ys, xs = ys[pick], xs[pick]
        out['dp_x'].extend((xs + 0.5).tolist())
        out['dp_y'].extend((ys + 0.5).tolist())
        out['dp_I'].extend([float(part)] * count)
        out['dp_U'].extend((iuv_box[1, ys, xs] / 255.0).tolist())
        out['dp_V'].extend((iuv_box[2, ys, xs] / 255.0).tolist())
    return out


def coarse_masks_to_rle(labels: np.ndarray) -> List:
    """Encode the 14 coarse-part masks of a fine-part label map as RLE.

    Args:
        labels (np.ndarray): (S, S) fine part labels in 0..24.

    Returns:
        list: 14 entries in ``dp_masks`` order (``COARSE_PART_NAMES``): an RLE
        dict ``{'size': [S, S], 'counts': str}`` where coarse part ``k + 1``
        is present, ``[]`` where it is absent.
    """
    coarse = _FINE_TO_COARSE[np.asarray(labels, dtype=np.int64)]
    masks: List = []
    for k in range(NUM_COARSE_PARTS):
        mask = coarse == k + 1
        if not mask.any():
            masks.append([])
            continue
        rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
        rle['counts'] = rle['counts'].decode('ascii')
        masks.append(rle)
    return masks


def iuv_to_dp_fields(iuv: np.ndarray,
                     src_box: Sequence[float],
                     dst_box: Optional[Sequence[float]] = None,
                     num_points: int = 100,
                     min_per_part: int = 3,
                     rng: Optional[np.random.Generator] = None) -> Optional[dict]:
    """DensePose-COCO fields of one instance.

    Args:
        iuv (np.ndarray): (3, h, w) uint8 IUV map over ``src_box``.
        src_box (Sequence[float]): xywh box the map covers.
        dst_box (Sequence[float], optional): xywh box of the annotation whose
            frame the fields are expressed in. Defaults to ``src_box``.
        num_points (int): Approximate number of points.
        min_per_part (int): Minimum points per present part.
        rng (np.random.Generator, optional): Random generator.

    Returns:
        dict | None: ``dp_x``, ``dp_y``, ``dp_I``, ``dp_U``, ``dp_V`` lists and
        ``dp_masks`` (14 entries); None when no body-part pixel falls in the
        target box frame (real predictions can be empty).
    """
    box_iuv = resample_iuv(iuv, src_box, dst_box)
    if not (box_iuv[0] > 0).any():
        return None
    fields = sample_dp_points(box_iuv, num_points, min_per_part, rng)
    fields['dp_masks'] = coarse_masks_to_rle(box_iuv[0])
    return fields


def load_challenge_results(path: str, score_thr: float = 0.0) -> List[dict]:
    """Read a COCO DensePose challenge results file into conversion instances.

    Parsing and validation are those of
    :func:`mmdensekd.evaluation.functional.load_densepose_results`.

    Args:
        path (str): JSON list of results with ``image_id``, ``category_id``,
            ``bbox`` (xywh), ``score``, ``uv_shape`` and ``uv_data``.
        score_thr (float): Results with a lower score are skipped (counted).

    Returns:
        list[dict]: instances ``dict(image_id, category_id, bbox, score, iuv)``
        with ``iuv`` the decoded (3, h, w) uint8 map.
    """
    from mmdensekd.evaluation.functional import load_densepose_results
    instances, skipped = [], 0
    for i, res in enumerate(load_densepose_results(path, decode=True)):
        if res['score'] < score_thr:
            skipped += 1
            continue
        instances.append(
            dict(image_id=res['image_id'], category_id=res['category_id'],
                 bbox=[float(v) for v in res['bbox']], score=float(res['score']),
                 iuv=_check_iuv(res['iuv'], f'{path}: result {i} (image {res["image_id"]})')))
    if skipped:
        print_log(f'{path}: skipped {skipped} results with score < {score_thr}',
                  logger='current', level=logging.INFO)
    return instances


def instances_from_iuv_image(iuv_path: str, inds_path: str, image_id: int,
                             min_area: int = 1) -> List[dict]:
    """Split a full-image IUV image into per-instance box-sized maps.

    Args:
        iuv_path (str): IUV image written by OpenCV (``cv2.imread`` channel
            0 = I in 0..24, 1 = U, 2 = V in 0..255).
        inds_path (str): Instance index image of the same size (0 =
            background, k > 0 = instance k).
        image_id (int): Image id of the annotations.
        min_area (int): Instances with fewer labelled pixels are skipped.

    Returns:
        list[dict]: ``dict(image_id, category_id=1, bbox, score=1.0, iuv)`` per
        instance, ``iuv`` the (3, h, w) map over the instance's tight box
        with other instances' pixels cleared.
    """
    iuv_img = cv2.imread(iuv_path, cv2.IMREAD_COLOR)
    if iuv_img is None:
        raise ValueError(f'cannot read IUV image {iuv_path}')
    inds = cv2.imread(inds_path, cv2.IMREAD_UNCHANGED)
    if inds is None:
        raise ValueError(f'cannot read instance index image {inds_path}')
    if inds.ndim == 3:
        inds = inds[..., 0]
    if inds.shape != iuv_img.shape[:2]:
        raise ValueError(f'{inds_path}: size {inds.shape} differs from {iuv_path} '
                         f'{iuv_img.shape[:2]}')
    iuv = np.ascontiguousarray(iuv_img.transpose(2, 0, 1))
    _check_iuv(iuv, iuv_path)
    instances = []
    for k in np.unique(inds).tolist():
        if k == 0:
            continue
        mask = (inds == k) & (iuv[0] > 0)
        if mask.sum() < min_area:
            continue
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        crop = iuv[:, y0:y1, x0:x1].copy()
        crop[:, ~mask[y0:y1, x0:x1]] = 0
        instances.append(
            dict(image_id=image_id, category_id=1, score=1.0, instance_index=int(k),
                 bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)], iuv=crop))
    return instances


def box_iou_xywh(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two xywh boxes (pycocotools, as the COCO evaluation)."""
    return float(mask_util.iou([list(a)], [list(b)], [0])[0][0])


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def instances_to_annotations(instances: List[dict],
                             num_points: int = 100,
                             min_per_part: int = 3,
                             seed: int = 0,
                             start_id: int = 1) -> List[dict]:
    """Standalone DensePose-COCO annotations, one per instance, in its own box.

    Args:
        instances (list[dict]): From :func:`load_challenge_results` or
            :func:`instances_from_iuv_image`.
        num_points (int): Approximate points per instance.
        min_per_part (int): Minimum points per present part.
        seed (int): Seed; instance ``i`` samples with ``default_rng([seed, i])``.
        start_id (int): Id of the first annotation.

    Returns:
        list[dict]: COCO annotations with ``id`` (consecutive), ``image_id``,
        ``category_id``, ``bbox``, ``area`` (box area), ``iscrowd`` = 0 and
        the dp fields. Instances whose map has no body-part pixel are
        skipped (counted and logged).
    """
    anns, empty = [], []
    for i, inst in enumerate(instances):
        box = inst['bbox']
        fields = iuv_to_dp_fields(inst['iuv'], box, None, num_points, min_per_part,
                                  _rng(seed, i))
        if fields is None:
            empty.append(inst['image_id'])
            continue
        ann = dict(id=start_id + len(anns), image_id=inst['image_id'],
                   category_id=inst.get('category_id', 1), bbox=list(box),
                   area=float(box[2] * box[3]), iscrowd=0)
        ann.update(fields)
        anns.append(ann)
    if empty:
        print_log(f'skipped {len(empty)} IUV instances without any body-part pixel '
                  f'(image ids {empty})', logger='current', level=logging.WARNING)
    return anns


def merge_instances_into_coco(coco: dict,
                              instances: List[dict],
                              iou_thr: float = 0.5,
                              num_points: int = 100,
                              min_per_part: int = 3,
                              seed: int = 0) -> Tuple[dict, dict]:
    """Add dp fields to the ground-truth persons that IUV instances match.

    Each instance is matched (greedily, highest score first) to the
    unmatched, non-crowd ground-truth annotation of the same image and
    category with the highest box IoU, if that IoU is at least ``iou_thr``.
    The matched annotation keeps its keypoints, bbox, segmentation and area;
    the dp fields are resampled into the frame of ITS box.

    Args:
        coco (dict): COCO keypoints annotations (not modified).
        instances (list[dict]): IUV instances.
        iou_thr (float): Minimum IoU of a match.
        num_points (int): Approximate points per instance.
        min_per_part (int): Minimum points per present part.
        seed (int): Seed; instance ``i`` samples with ``default_rng([seed, i])``.

    Returns:
        tuple[dict, dict]: the merged COCO dict and statistics
        ``dict(matched=..., unmatched=..., empty=..., unmatched_by_image={...})``
        (``empty``: matched instances without any body-part pixel in the
        ground-truth box, skipped).
    """
    out = json.loads(json.dumps(coco))
    by_image: Dict[object, List[dict]] = {}
    for ann in out.get('annotations', []):
        by_image.setdefault(ann['image_id'], []).append(ann)
    used = set()
    stats = dict(matched=0, unmatched=0, empty=0, unmatched_by_image={})
    order = sorted(range(len(instances)), key=lambda i: -instances[i].get('score', 1.0))
    for i in order:
        inst = instances[i]
        best, best_iou = None, iou_thr
        for ann in by_image.get(inst['image_id'], []):
            if ann.get('iscrowd', 0) or id(ann) in used or \
                    ann.get('category_id', 1) != inst.get('category_id', 1):
                continue
            iou = box_iou_xywh(ann['bbox'], inst['bbox'])
            if iou >= best_iou:
                best, best_iou = ann, iou
        if best is None:
            stats['unmatched'] += 1
            key = str(inst['image_id'])
            stats['unmatched_by_image'][key] = stats['unmatched_by_image'].get(key, 0) + 1
            continue
        fields = iuv_to_dp_fields(inst['iuv'], inst['bbox'], best['bbox'], num_points,
                                  min_per_part, _rng(seed, i))
        if fields is None:
            stats['empty'] += 1
            continue
        used.add(id(best))
        best.update(fields)
        stats['matched'] += 1
    if stats['unmatched']:
        print_log(f'{stats["unmatched"]} IUV instances matched no ground-truth box with '
                  f'IoU >= {iou_thr} and were skipped (per image: '
                  f'{stats["unmatched_by_image"]})', logger='current', level=logging.INFO)
    if stats['empty']:
        print_log(f'{stats["empty"]} matched IUV instances had no body-part pixel inside '
                  'the ground-truth box and were skipped', logger='current',
                  level=logging.WARNING)
    return out, stats
