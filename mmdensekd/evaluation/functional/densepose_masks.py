# Copyright (c) mmdensekd contributors. All rights reserved.
"""Instance masks of the COCO DensePose evaluation, kept box-local.

The protocol pastes every mask into a full-image RLE and calls the COCO mask
IoU. A mask here is a :class:`PlacedMask`: a boolean array and its top-left
corner in the image, already clipped to the image exactly as the protocol
pastes it, so IoUs are the same numbers computed on the overlap only.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from mmdensekd.structures import DP_BOX_SIZE, NUM_COARSE_PARTS


class PlacedMask(NamedTuple):
    """A binary mask at ``(x0, y0)`` of the image frame.

    Attributes:
        x0 (int): first column in the image.
        y0 (int): first row in the image.
        mask (np.ndarray): (h, w) bool.
        area (int): number of set pixels.
    """
    x0: int
    y0: int
    mask: np.ndarray
    area: int


def place_mask(mask: Optional[np.ndarray], bbox_xywh: Sequence[float], img_h: int,
               img_w: int, view: bool = False) -> PlacedMask:
    """Paste a box-sized mask at ``(int(x), int(y))``, clipped to the image
    and to ``int(x + w)``, ``int(y + h)`` (the protocol's pasting rule).

    Args:
        mask (np.ndarray | None): (h, w) mask, nonzero = set; None = empty.
        bbox_xywh (Sequence[float]): box (x, y, w, h) in the image.
        img_h (int): image height.
        img_w (int): image width.
        view (bool): a bool ``mask`` is kept as a view of its crop (not
            copied; the caller does not change it).

    Returns:
        PlacedMask: the clipped mask.
    """
    if mask is None:
        return PlacedMask(0, 0, np.zeros((0, 0), dtype=bool), 0)
    x, y, w, h = (float(c) for c in bbox_xywh)
    xi, yi = int(x), int(y)
    x0, y0 = max(xi, 0), max(yi, 0)
    x1 = min(int(x + w), img_w, xi + mask.shape[1])
    y1 = min(int(y + h), img_h, yi + mask.shape[0])
    if x1 <= x0 or y1 <= y0:
        return PlacedMask(0, 0, np.zeros((0, 0), dtype=bool), 0)
    crop = np.asarray(mask[y0 - yi:y1 - yi, x0 - xi:x1 - xi])
    if not (view and crop.dtype == bool):
        crop = crop > 0
    return PlacedMask(x0, y0, crop, int(np.count_nonzero(crop)))


def dp_masks_to_box_mask(dp_masks: Sequence, bbox_xywh: Sequence[float]) -> np.ndarray:
    """Union of the ``dp_masks`` resized to the ground-truth box.

    As the protocol: the 256x256 union is zoomed by
    ``(max(h, 1) / 256, max(w, 1) / 256)`` with linear interpolation
    (``scipy.ndimage.zoom``, no prefilter) and thresholded at 0.5; computed
    by :func:`zoom_binary_linear` (the same numbers, several times faster).

    Args:
        dp_masks (Sequence): up to 14 RLE dicts; falsy entries are absent parts.
        bbox_xywh (Sequence[float]): ground-truth box (x, y, w, h).

    Returns:
        np.ndarray: (round(h), round(w)) uint8 mask.
    """
    rles = [r for r in list(dp_masks)[:NUM_COARSE_PARTS] if r]
    if rles:
        union = mask_utils.decode(mask_utils.merge(rles, intersect=False))
    else:
        union = np.zeros((DP_BOX_SIZE, DP_BOX_SIZE), dtype=np.uint8)
    _, _, w, h = (float(c) for c in bbox_xywh)
    scale_x = max(w, 1.0) / DP_BOX_SIZE
    scale_y = max(h, 1.0) / DP_BOX_SIZE
    return zoom_binary_linear(union, (scale_y, scale_x)).astype(np.uint8)


def _zoom_axis(length: int, factor: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray, np.ndarray]:
    """Sample positions and weights of a linear (order 1) ``scipy.ndimage.zoom``
    along one axis, in scipy's arithmetic (``grid_mode=False``, constant mode).

    Returns:
        tuple: ``inside`` (N,) bool (False: the output line is ``cval``),
        ``lo``/``hi`` (N,) input indices (``hi`` mirrored at the border, as
        scipy does) and their weights ``w_lo``/``w_hi``.
    """
    size = int(round(length * factor))
    scale = (length - 1) / (size - 1) if size > 1 else 1.0
    coord = np.arange(size, dtype=np.float64) * scale
    inside = coord <= length - 1
    coord = np.where(inside, coord, 0.0)
    lo = np.floor(coord).astype(np.int64)
    w_lo = 1.0 - (coord - lo)
    w_hi = 1.0 - w_lo
    hi = lo + 1
    if length > 1:
        hi = np.where(hi >= length, 2 * length - 2 - hi, hi)
    else:
        hi = np.zeros_like(hi)
    return inside, lo, hi, w_lo, w_hi


def zoom_binary_linear(mask: np.ndarray, factors: Tuple[float, float]) -> np.ndarray:
    """``scipy.ndimage.zoom(mask.astype(float), factors, order=1,
    prefilter=False) > 0.5`` for a binary 2-D mask, bit-identical.

    scipy sums, per output pixel, ``value * w_y * w_x`` over the 2x2 input
    neighbours in row-major order. With 0/1 values a pixel whose neighbours
    are all 0 gives 0 and one whose neighbours are all 1 gives the sum of
    the four weights (about 1); only pixels with mixed neighbours (the
    outline) need the weighted sum, formed here in scipy's order.

    Args:
        mask (np.ndarray): (H, W) array, nonzero = set.
        factors (tuple[float, float]): zoom factors (y, x).

    Returns:
        np.ndarray: (round(H * fy), round(W * fx)) bool.
    """
    mask = np.asarray(mask)
    axes_y = _zoom_axis(mask.shape[0], float(factors[0]))
    axes_x = _zoom_axis(mask.shape[1], float(factors[1]))
    if mask.ndim == 2 and mask.flags.f_contiguous and not mask.flags.c_contiguous:
        # pycocotools' masks are column-major: zoom the transpose (a
        # contiguous view) and return the transpose of its result
        out = _zoom_binary_rows(_binary_uint8(mask.T), axes_x, axes_y, transposed=True).T
    else:
        out = _zoom_binary_rows(_binary_uint8(mask), axes_y, axes_x, transposed=False)
    if not axes_y[0].all():
        out &= axes_y[0][:, None]
    if not axes_x[0].all():
        out &= axes_x[0][None, :]
    return out


def _zoom_binary_rows(mask: np.ndarray, axes_0: tuple, axes_1: tuple,
                      transposed: bool) -> np.ndarray:
    """:func:`zoom_binary_linear` of a C-contiguous uint8 0/1 mask, axis 0
    gathered first (contiguous rows), the outline summed in scipy's order:
    row-major in the image, i.e. axis 1 first when ``transposed`` (axis 0
    then being the image's x). The ``inside`` masks are left to the caller.
    """
    _, lo_0, hi_0, w0_lo, w0_hi = axes_0
    _, lo_1, hi_1, w1_lo, w1_hi = axes_1
    lines_lo, lines_hi = mask[lo_0], mask[hi_0]
    # Number of set pixels among the 2x2 neighbours of every output pixel:
    # positions lo and hi along axis 1 are neighbours (hi = lo + 1, or
    # lo - 1 at the last one), so it is one look-up in the sums of adjacent
    # pairs.
    lines = lines_lo + lines_hi
    if mask.shape[1] > 1:
        count = np.take(lines[:, :-1] + lines[:, 1:], np.minimum(lo_1, mask.shape[1] - 2),
                        axis=1)
    else:
        count = np.take(lines, lo_1, axis=1) * np.uint8(2)
    out = count == 4
    # some but not all set (1, 2 or 3): the outline, in scipy's arithmetic
    flat = np.flatnonzero((count & np.uint8(3)) != 0)  # (bool: the fast nonzero)
    if len(flat):
        i0, i1 = np.divmod(flat, count.shape[1])
        b_lo, b_hi = lo_1[i1], hi_1[i1]
        # neighbour values and weights, image rows (y) first
        corners = [(lines_lo[i0, b_lo], w0_lo[i0], w1_lo[i1]),
                   (lines_lo[i0, b_hi], w0_lo[i0], w1_hi[i1]),
                   (lines_hi[i0, b_lo], w0_hi[i0], w1_lo[i1]),
                   (lines_hi[i0, b_hi], w0_hi[i0], w1_hi[i1])]
        if transposed:  # axis 0 is x: y-major order is (lo, lo), (hi, lo), ...
            corners = [corners[0], corners[2], corners[1], corners[3]]
        total = np.zeros(len(flat))
        for value, w0, w1 in corners:
            # w_y * w_x in scipy's order (products commute exactly)
            total += np.where(value != 0, w1 * w0 if transposed else w0 * w1, 0.0)
        out[i0, i1] = total > 0.5
    return out


def _binary_uint8(mask: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 0/1 copy (or view) of a mask, nonzero = 1."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return np.ascontiguousarray(mask).view(np.uint8)
    if mask.dtype == np.uint8:
        mask = np.ascontiguousarray(mask)
        if not mask.size or mask.max() <= 1:
            return mask
    return np.ascontiguousarray(mask != 0).view(np.uint8)


def segmentation_to_placed_mask(segm, img_h: int, img_w: int) -> PlacedMask:
    """A COCO ``segmentation`` (polygons, RLE or uncompressed RLE) as a
    placed mask cropped to its set pixels."""
    if isinstance(segm, list):
        if not segm:
            return place_mask(None, (0, 0, 0, 0), img_h, img_w)
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, img_h, img_w))
    elif isinstance(segm, dict) and isinstance(segm.get('counts'), list):
        rle = mask_utils.frPyObjects(segm, img_h, img_w)
    elif isinstance(segm, dict):
        rle = segm
    else:
        return place_mask(None, (0, 0, 0, 0), img_h, img_w)
    full = mask_utils.decode(rle).astype(bool)
    if full.ndim == 3:
        full = full.any(axis=2)
    rows, cols = np.nonzero(full.any(1))[0], np.nonzero(full.any(0))[0]
    if len(rows) == 0:
        return place_mask(None, (0, 0, 0, 0), img_h, img_w)
    crop = full[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return PlacedMask(int(cols[0]), int(rows[0]), crop, int(crop.sum()))


def mask_intersection(a: PlacedMask, b: PlacedMask) -> int:
    """Number of pixels set in both placed masks."""
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1 = min(a.x0 + a.mask.shape[1], b.x0 + b.mask.shape[1])
    y1 = min(a.y0 + a.mask.shape[0], b.y0 + b.mask.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0
    sa = a.mask[y0 - a.y0:y1 - a.y0, x0 - a.x0:x1 - a.x0]
    sb = b.mask[y0 - b.y0:y1 - b.y0, x0 - b.x0:x1 - b.x0]
    return int(np.count_nonzero(sa & sb))


def mask_iou_from_intersections(dt_areas: np.ndarray, gt_areas: np.ndarray,
                                inter: np.ndarray, gt_crowd: Sequence[bool]) -> np.ndarray:
    """COCO mask IoU from areas and pairwise intersections.

    Args:
        dt_areas (np.ndarray): (D,) detection mask areas.
        gt_areas (np.ndarray): (G,) ground-truth mask areas.
        inter (np.ndarray): (D, G) intersection areas.
        gt_crowd (Sequence[bool]): (G,) crowd flags (IoU over the detection
            area).

    Returns:
        np.ndarray: (D, G) float64, 0 where a detection is empty, a
        non-crowd ground truth is empty or a union is empty.
    """
    da = np.asarray(dt_areas, dtype=np.int64).reshape(-1, 1)
    ga = np.asarray(gt_areas, dtype=np.int64).reshape(1, -1)
    inter = np.asarray(inter, dtype=np.int64).reshape(da.shape[0], ga.shape[1])
    crowd = np.asarray(gt_crowd, dtype=bool).reshape(1, -1)
    union = np.where(crowd, da, da + ga - inter)
    valid = (da > 0) & ~((ga == 0) & ~crowd) & (union > 0)
    return np.where(valid, inter / np.where(valid, union, 1), 0.0)


def mask_iou_matrix(dt_masks: List[PlacedMask], gt_masks: List[PlacedMask],
                    gt_crowd: Sequence[bool]) -> np.ndarray:
    """COCO mask IoU; against a crowd ground truth, intersection over the
    detection area.

    Args:
        dt_masks (list[PlacedMask]): D detection masks.
        gt_masks (list[PlacedMask]): G ground-truth masks.
        gt_crowd (Sequence[bool]): (G,) crowd flags.

    Returns:
        np.ndarray: (D, G) float64, 0 where a union is empty.
    """
    inter = np.array([[mask_intersection(d, g) if d.area else 0 for g in gt_masks]
                      for d in dt_masks], dtype=np.int64).reshape(len(dt_masks), len(gt_masks))
    return mask_iou_from_intersections([d.area for d in dt_masks], [g.area for g in gt_masks],
                                       inter, gt_crowd)


def ignore_region_mask(img: dict) -> Optional[np.ndarray]:
    """The image's ``ignore_regions_x/y`` polygons as an (H, W) uint8 mask,
    or None when it has none."""
    xs = img.get('ignore_regions_x') or []
    if len(xs) == 0:
        return None
    polys = [[c for xy in zip(rx, ry) for c in xy]
             for rx, ry in zip(xs, img.get('ignore_regions_y', []))]
    rle = mask_utils.merge(mask_utils.frPyObjects(polys, img['height'], img['width']))
    return mask_utils.decode(rle)


def keep_outside_ignore(bbox_xywh: Sequence[float], region: Optional[np.ndarray],
                        fg: Optional[np.ndarray] = None, box_thr: float = 0.7,
                        mask_thr: float = 0.9) -> bool:
    """The protocol's ignore-region filter.

    A ground-truth box is kept if less than ``box_thr`` of it lies in the
    ignore region; a detection is kept if less than ``mask_thr`` of its
    foreground ``fg`` (box-sized, at the box corner) does. A box of zero
    area is dropped when the image has an ignore region.

    Args:
        bbox_xywh (Sequence[float]): box (x, y, w, h).
        region (np.ndarray | None): (H, W) ignore mask or None.
        fg (np.ndarray | None): detection foreground (h, w); None = box test.
        box_thr (float): box threshold.
        mask_thr (float): foreground threshold.

    Returns:
        bool: whether to keep the instance.
    """
    if region is None:
        return True
    bx, by, bw, bh = (int(c) for c in np.asarray(bbox_xywh, dtype=np.float64))
    if bw * bh == 0:
        return False
    # Deviation: a negative box origin is clipped to 0 (the reference
    # slices with the negative index, i.e. from the far image border).
    x1, y1 = max(bx, 0), max(by, 0)
    x2, y2 = min(bx + bw, region.shape[1]), min(by + bh, region.shape[0])
    crop = region[y1:y2, x1:x2]
    if crop.sum() == 0:
        return True
    if fg is None:
        return crop.sum() / bw / bh < box_thr
    fg = np.asarray(fg) > 0
    h, w = min(fg.shape[0], crop.shape[0]), min(fg.shape[1], crop.shape[1])
    area = int(fg.sum())
    inter = int(np.count_nonzero(fg[:h, :w] & (crop[:h, :w] > 0)))
    return (inter / area if area else 0.0) < mask_thr
