# Copyright (c) mmdensekd contributors. All rights reserved.
"""cv2 / numpy drawing of boxes, COCO keypoints and DensePose charts.

Every function draws in place on an (H, W, 3) uint8 image whose channel
order is the one of the colours passed (the visualiser uses RGB) and returns
it. A DensePose chart of box ``(x0, y0, x1, y1)`` is an (h, w) label map and
a (2, h, w) U, V map anchored at ``(int(x0), int(y0))``; the parts that fall
outside the image are clipped.

Shape legend: ``N`` instances, ``K`` keypoints, ``h x w`` a chart, ``T`` the
side of a texture tile.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from mmdensekd.datasets.coco_keypoints import COCO_SKELETON
from mmdensekd.structures import DP_BOX_SIZE, NUM_FINE_PARTS
from mmdensekd.structures.densepose_constants import FINE_TO_COARSE

#: RGB colours of the body sides (face/centre, left, right).
_SIDE_COLORS = dict(center=(51, 153, 255), left=(0, 255, 0), right=(255, 128, 0))


def _side(index: int) -> str:
    """Side of COCO keypoint ``index``: 0..4 face, odd left, even right."""
    if index < 5:
        return 'center'
    return 'left' if index % 2 == 1 else 'right'


def fine_part_palette(num_parts: int = NUM_FINE_PARTS) -> np.ndarray:
    """Distinct saturated RGB colours for the fine parts.

    Returns:
        np.ndarray: (num_parts + 1, 3) uint8; row ``i`` is the colour of part
        ``i`` (row 0, background, is black and never drawn).
    """
    hues = (np.arange(num_parts) * 180 // num_parts).astype(np.uint8)
    hsv = np.stack([hues, np.full_like(hues, 255), np.full_like(hues, 255)], axis=1)
    rgb = cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]
    return np.concatenate([np.zeros((1, 3), np.uint8), rgb])


def chart_window(box: Sequence[float], chart_shape: Tuple[int, int],
                 img_shape: Tuple[int, int]) -> Optional[Tuple[slice, slice, slice, slice]]:
    """Where a box chart lands in the image.

    Args:
        box (Sequence[float]): (x0, y0, x1, y1) in the image frame.
        chart_shape (tuple[int, int]): (h, w) of the chart.
        img_shape (tuple[int, int]): (H, W) of the image.

    Returns:
        tuple[slice, slice, slice, slice] | None: image rows, image columns,
        chart rows, chart columns; None when the chart is outside the image.
    """
    x0, y0 = int(box[0]), int(box[1])
    h, w = chart_shape
    height, width = img_shape
    iy0, ix0 = max(y0, 0), max(x0, 0)
    iy1, ix1 = min(y0 + h, height), min(x0 + w, width)
    if iy1 <= iy0 or ix1 <= ix0:
        return None
    return (slice(iy0, iy1), slice(ix0, ix1), slice(iy0 - y0, iy1 - y0),
            slice(ix0 - x0, ix1 - x0))


def _blend(region: np.ndarray, mask: np.ndarray, colors: np.ndarray, alpha: float) -> None:
    """``region[mask] = alpha * colors + (1 - alpha) * region[mask]`` (in place)."""
    old = region[mask].astype(np.float32)
    region[mask] = np.clip(alpha * colors.astype(np.float32) + (1 - alpha) * old + 0.5, 0,
                           255).astype(np.uint8)


def draw_densepose_parts(img: np.ndarray, labels: np.ndarray, box: Sequence[float],
                         alpha: float = 0.6,
                         palette: Optional[np.ndarray] = None) -> np.ndarray:
    """Blend the fine-part colours of one chart into ``img``.

    Args:
        img (np.ndarray): (H, W, 3) uint8 image, drawn in place.
        labels (np.ndarray): (h, w) fine part labels in 0..24 (0 = background,
            left untouched).
        box (Sequence[float]): The instance's (x0, y0, x1, y1) box.
        alpha (float): Opacity of the part colours.
        palette (np.ndarray, optional): (25, 3) colours; defaults to
            :func:`fine_part_palette`.

    Returns:
        np.ndarray: ``img``.
    """
    palette = fine_part_palette() if palette is None else np.asarray(palette, np.uint8)
    win = chart_window(box, labels.shape, img.shape[:2])
    if win is None:
        return img
    iy, ix, cy, cx = win
    lab = labels[cy, cx].astype(np.int64)
    fg = lab > 0
    region = img[iy, ix]
    _blend(region, fg, palette[np.clip(lab[fg], 0, len(palette) - 1)], alpha)
    img[iy, ix] = region
    return img


def draw_densepose_uv(img: np.ndarray, labels: np.ndarray, uv: np.ndarray,
                      box: Sequence[float], channel: int, alpha: float = 0.6,
                      num_contours: int = 10,
                      contour_color: Tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Colour-map U (``channel=0``) or V (``channel=1``) on the foreground of
    one chart, with iso-lines every ``1 / num_contours`` inside each part.

    Args:
        img (np.ndarray): (H, W, 3) uint8 RGB image, drawn in place.
        labels (np.ndarray): (h, w) fine part labels (0 = background).
        uv (np.ndarray): (2, h, w) U, V in [0, 1].
        box (Sequence[float]): The instance's (x0, y0, x1, y1) box.
        channel (int): 0 for U, 1 for V.
        alpha (float): Opacity of the colour map.
        num_contours (int): Number of iso-value bands; 0 disables the lines.
        contour_color (tuple[int, int, int]): Colour of the iso-lines.

    Returns:
        np.ndarray: ``img``.
    """
    if channel not in (0, 1):
        raise ValueError(f'channel must be 0 (U) or 1 (V), got {channel}')
    win = chart_window(box, labels.shape, img.shape[:2])
    if win is None:
        return img
    iy, ix, cy, cx = win
    lab = labels[cy, cx].astype(np.int64)
    value = np.clip(np.asarray(uv[channel], np.float32)[cy, cx], 0, 1)
    fg = lab > 0
    cmap = cv2.applyColorMap((value * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    region = img[iy, ix]
    _blend(region, fg, cmap[fg], alpha)
    if num_contours > 0:
        level = np.minimum((value * num_contours).astype(np.int64), num_contours - 1)
        edge = np.zeros_like(fg)
        for axis in (0, 1):
            diff = np.diff(level, axis=axis) != 0
            both = np.logical_and(fg[1:] if axis == 0 else fg[:, 1:],
                                  fg[:-1] if axis == 0 else fg[:, :-1])
            same = np.diff(lab, axis=axis) == 0
            hit = diff & both & same
            if axis == 0:
                edge[1:] |= hit
            else:
                edge[:, 1:] |= hit
        region[edge] = np.asarray(contour_color, np.uint8)
    img[iy, ix] = region
    return img


def split_texture_atlas(atlas: np.ndarray) -> np.ndarray:
    """Split a DensePose texture atlas into one tile per fine part.

    The atlas is 6 rows x 4 columns of ``T x T`` tiles; part ``p`` (1..24)
    is the tile at column ``(p - 1) // 6``, row ``(p - 1) % 6`` (the layout of
    the DensePose texture-transfer notebook).

    Args:
        atlas (np.ndarray): (6T, 4T, 3) uint8 image.

    Returns:
        np.ndarray: (24, T, T, 3) tiles, index ``p - 1`` for part ``p``.
    """
    atlas = np.asarray(atlas)
    if atlas.ndim != 3 or atlas.shape[2] != 3:
        raise ValueError(f'texture atlas must be (H, W, 3), got shape {atlas.shape}')
    tile = atlas.shape[1] // 4
    if tile == 0 or atlas.shape[0] != 6 * tile or atlas.shape[1] != 4 * tile:
        raise ValueError('texture atlas must be 6 rows x 4 columns of square tiles '
                         f'(6T x 4T), got shape {atlas.shape}')
    return np.stack([
        atlas[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile]
        for col in range(4) for row in range(6)
    ])


def draw_densepose_texture(img: np.ndarray, labels: np.ndarray, uv: np.ndarray,
                           box: Sequence[float], tiles: np.ndarray,
                           alpha: float = 1.0) -> np.ndarray:
    """Paint each foreground pixel with its part's texture at (U, V).

    A pixel of part ``p`` with coordinates (U, V) takes the texel at row
    ``(1 - V) * (T - 1)`` and column ``U * (T - 1)`` of tile ``p - 1``.

    Args:
        img (np.ndarray): (H, W, 3) uint8 image, drawn in place.
        labels (np.ndarray): (h, w) fine part labels (0 = background).
        uv (np.ndarray): (2, h, w) U, V in [0, 1].
        box (Sequence[float]): The instance's (x0, y0, x1, y1) box.
        tiles (np.ndarray): (24, T, T, 3) tiles from :func:`split_texture_atlas`
            (same channel order as ``img``).
        alpha (float): Opacity of the texture.

    Returns:
        np.ndarray: ``img``.
    """
    win = chart_window(box, labels.shape, img.shape[:2])
    if win is None:
        return img
    iy, ix, cy, cx = win
    lab = labels[cy, cx].astype(np.int64)
    fg = (lab > 0) & (lab <= len(tiles))
    if not fg.any():
        return img
    size = tiles.shape[1]
    u = np.clip(np.asarray(uv[0], np.float32)[cy, cx][fg], 0, 1)
    v = np.clip(np.asarray(uv[1], np.float32)[cy, cx][fg], 0, 1)
    rows = ((1 - v) * (size - 1)).astype(np.int64)
    cols = (u * (size - 1)).astype(np.int64)
    region = img[iy, ix]
    _blend(region, fg, tiles[lab[fg] - 1, rows, cols], alpha)
    img[iy, ix] = region
    return img


def coarse_part_palette(fine_palette: Optional[np.ndarray] = None) -> np.ndarray:
    """Colours of the 14 coarse parts, each the colour of its first fine part.

    Args:
        fine_palette (np.ndarray, optional): (25, 3) fine part colours;
            defaults to :func:`fine_part_palette`.

    Returns:
        np.ndarray: (15, 3) uint8; row ``c`` is coarse part ``c`` (1..14), row
        0 (background) is black.
    """
    fine_palette = fine_part_palette() if fine_palette is None else np.asarray(fine_palette)
    palette = np.zeros((max(FINE_TO_COARSE) + 1, 3), np.uint8)
    for fine in range(len(FINE_TO_COARSE) - 1, 0, -1):
        palette[FINE_TO_COARSE[fine]] = fine_palette[fine]
    return palette


def dp_points_to_image(points: np.ndarray, box: Sequence[float],
                       box_size: int = DP_BOX_SIZE) -> np.ndarray:
    """Image positions of DensePose points given in the box frame.

    Args:
        points (np.ndarray): (P, >=2) points whose first columns are x, y in
            the ``box_size`` x ``box_size`` box frame.
        box (Sequence[float]): The instance's (x0, y0, x1, y1) box.
        box_size (int): Side of the box frame. Defaults to 256.

    Returns:
        np.ndarray: (P, 2) float32 x, y in the image frame
        (``x_img = x0 + x * w / box_size``).
    """
    points = np.asarray(points, np.float32).reshape(len(points), -1)
    x0, y0, x1, y1 = (float(c) for c in box[:4])
    scale = np.array([(x1 - x0) / box_size, (y1 - y0) / box_size], np.float32)
    return points[:, :2] * scale + np.array([x0, y0], np.float32)


def draw_coarse_segm(img: np.ndarray, segm: np.ndarray, box: Sequence[float],
                     alpha: float = 0.4,
                     palette: Optional[np.ndarray] = None) -> np.ndarray:
    """Blend a ground-truth coarse segmentation (box frame) into ``img``.

    Args:
        img (np.ndarray): (H, W, 3) uint8 image, drawn in place.
        segm (np.ndarray): (S, S) merged coarse segmentation in the box frame,
            0 background, ``c`` for coarse part ``c`` (1..14).
        box (Sequence[float]): The instance's (x0, y0, x1, y1) box.
        alpha (float): Opacity of the part colours.
        palette (np.ndarray, optional): (15, 3) colours; defaults to
            :func:`coarse_part_palette`.

    Returns:
        np.ndarray: ``img``.
    """
    palette = coarse_part_palette() if palette is None else np.asarray(palette, np.uint8)
    w = max(int(box[2] - box[0]), 1)
    h = max(int(box[3] - box[1]), 1)
    segm = np.asarray(segm, np.uint8)
    if not segm.any():
        return img
    labels = cv2.resize(segm, (w, h), interpolation=cv2.INTER_NEAREST)
    return draw_densepose_parts(img, labels, box, alpha, palette)


def draw_dp_points(img: np.ndarray, points: np.ndarray, box: Sequence[float],
                   color_by: str = 'parts', radius: int = 2,
                   palette: Optional[np.ndarray] = None) -> np.ndarray:
    """Draw ground-truth DensePose points as filled discs.

    Args:
        img (np.ndarray): (H, W, 3) uint8 RGB image, drawn in place.
        points (np.ndarray): (P, 5) ``x, y, I, U, V`` with x, y in the 256x256
            box frame, or (P, 6) with a U/V variance column (not drawn).
        box (Sequence[float]): The instance's (x0, y0, x1, y1) box.
        color_by (str): ``'parts'`` (the fine part colour of I), ``'u'`` or
            ``'v'`` (the JET colour of U or V).
        radius (int): Disc radius in pixels.
        palette (np.ndarray, optional): (25, 3) fine part colours.

    Returns:
        np.ndarray: ``img``.
    """
    if color_by not in ('parts', 'u', 'v'):
        raise ValueError(f"color_by must be 'parts', 'u' or 'v', got {color_by!r}")
    points = np.asarray(points, np.float32)
    points = points[:, :5] if points.ndim == 2 else points.reshape(-1, 5)
    if len(points) == 0:
        return img
    palette = fine_part_palette() if palette is None else np.asarray(palette, np.uint8)
    xy = np.round(dp_points_to_image(points, box)).astype(np.int64)
    if color_by == 'parts':
        colors = palette[np.clip(points[:, 2].astype(np.int64), 0, len(palette) - 1)]
    else:
        value = np.clip(points[:, 3 if color_by == 'u' else 4], 0, 1)
        colors = cv2.applyColorMap((value * 255).astype(np.uint8)[:, None],
                                   cv2.COLORMAP_JET)[:, 0, ::-1]
    for (x, y), color in zip(xy, colors):
        cv2.circle(img, (int(x), int(y)), int(radius), tuple(int(c) for c in color), -1)
    return img


def draw_box(img: np.ndarray, box: Sequence[float], color: Tuple[int, int, int],
             text: Optional[str] = None, thickness: int = 2,
             text_color: Tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Draw a box outline and an optional caption above its top-left corner."""
    x0, y0, x1, y1 = (int(round(float(c))) for c in box[:4])
    cv2.rectangle(img, (x0, y0), (x1, y1), tuple(int(c) for c in color), thickness)
    if text:
        font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5
        (tw, th), base = cv2.getTextSize(text, font, scale, 1)
        ty = y0 - 2 if y0 - th - base - 2 >= 0 else y0 + th + 2
        cv2.rectangle(img, (x0, ty - th - base), (x0 + tw, ty + base // 2),
                      tuple(int(c) for c in color), -1)
        cv2.putText(img, text, (x0, ty - base // 2), font, scale,
                    tuple(int(c) for c in text_color), 1, cv2.LINE_AA)
    return img


def draw_keypoints(img: np.ndarray, keypoints: np.ndarray, scores: Optional[np.ndarray],
                   kpt_thr: float = 0.3,
                   skeleton: Sequence[Tuple[int, int]] = COCO_SKELETON, radius: int = 3,
                   thickness: int = 2) -> np.ndarray:
    """Draw the keypoints of one instance and the skeleton between them.

    Keypoints with a score below ``kpt_thr`` are skipped, and so are limbs
    with such an end point. Colours follow the body side (COCO order: 0..4
    face, odd indices left, even indices right).

    Args:
        img (np.ndarray): (H, W, 3) uint8 RGB image, drawn in place.
        keypoints (np.ndarray): (K, 2) x, y in the image frame.
        scores (np.ndarray, optional): (K,) scores; None draws all.
        kpt_thr (float): Score threshold.
        skeleton (Sequence[tuple[int, int]]): Limbs as keypoint index pairs.
        radius (int): Keypoint radius.
        thickness (int): Limb thickness.

    Returns:
        np.ndarray: ``img``.
    """
    keypoints = np.asarray(keypoints, np.float32).reshape(-1, 2)
    num = len(keypoints)
    scores = np.ones(num, np.float32) if scores is None else np.asarray(scores).reshape(-1)
    if len(scores) != num:
        raise ValueError(f'{num} keypoints but {len(scores)} keypoint scores')
    height, width = img.shape[:2]
    visible = (scores >= kpt_thr) & np.isfinite(keypoints).all(axis=1)
    visible &= (keypoints[:, 0] >= 0) & (keypoints[:, 0] < width)
    visible &= (keypoints[:, 1] >= 0) & (keypoints[:, 1] < height)
    points = np.round(np.nan_to_num(keypoints)).astype(np.int64)
    for a, b in skeleton:
        if a < num and b < num and visible[a] and visible[b]:
            side = _side(a) if _side(a) == _side(b) else 'center'
            cv2.line(img, (int(points[a, 0]), int(points[a, 1])),
                     (int(points[b, 0]), int(points[b, 1])), _SIDE_COLORS[side], thickness,
                     cv2.LINE_AA)
    for k in np.nonzero(visible)[0]:
        cv2.circle(img, (int(points[k, 0]), int(points[k, 1])), radius,
                   _SIDE_COLORS[_side(int(k))], -1, cv2.LINE_AA)
    return img
