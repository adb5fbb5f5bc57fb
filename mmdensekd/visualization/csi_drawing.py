# Copyright (c) mmdensekd contributors. All rights reserved.
"""Heatmaps of WiFi CSI amplitude and phase, drawn beside camera frames.

Shape legend: ``A`` antenna pairs (or any leading axes), ``F``
subcarriers, ``T`` packets (time).
"""
from typing import Tuple

import cv2
import numpy as np

from mmdensekd.utils.misc import to_numpy


def csi_to_2d(values: np.ndarray) -> np.ndarray:
    """Flatten one CSI tensor to a 2-D map: the last axis becomes the columns.

    Args:
        values (np.ndarray): (..., T) array, e.g. (A, F, T) or (T, F) as the
            transforms produce; 1-D arrays become one row.

    Returns:
        np.ndarray: (prod(...), T) float32 map.
    """
    values = np.asarray(values, np.float32)
    if values.ndim == 0:
        raise ValueError('CSI must have at least one axis, got a scalar')
    if values.ndim == 1:
        return values[None]
    return values.reshape(-1, values.shape[-1])


def heatmap(values: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Min-max normalised JET heatmap of a 2-D map.

    Args:
        values (np.ndarray): (h, w) map; non-finite values count as the
            minimum.
        size (tuple[int, int]): (height, width) of the output.

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB image.
    """
    values = np.asarray(values, np.float32)
    finite = np.isfinite(values)
    lo = float(values[finite].min()) if finite.any() else 0.0
    hi = float(values[finite].max()) if finite.any() else 0.0
    norm = np.where(finite, values - lo, 0.0) / (hi - lo if hi > lo else 1.0)
    gray = (np.clip(norm, 0, 1) * 255).astype(np.uint8)
    gray = cv2.resize(gray, (int(size[1]), int(size[0])), interpolation=cv2.INTER_NEAREST)
    return cv2.applyColorMap(gray, cv2.COLORMAP_JET)[..., ::-1].copy()


def draw_csi_panel(csi, height: int, width: int = 0) -> np.ndarray:
    """Amplitude (top) and phase (bottom) heatmaps of one CSI sample.

    Args:
        csi (np.ndarray | Tensor): (2, ...) stacked amplitude and phase, as
            ``PackDensePoseInputs`` packs ``inputs['csi']``.
        height (int): Height of the panel (each heatmap takes half of it).
        width (int): Width of the panel; 0 makes it ``height // 2``.

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB panel, captioned
        ``amplitude`` and ``phase``.

    Raises:
        ValueError: ``csi`` does not stack two maps on its first axis.
    """
    csi = to_numpy(csi).astype(np.float32)
    if csi.ndim < 2 or csi.shape[0] != 2:
        raise ValueError('CSI must stack amplitude and phase on its first axis, (2, ...), '
                         f'got shape {csi.shape}')
    height = max(int(height), 2)
    width = int(width) if width > 0 else max(height // 2, 1)
    top = height // 2
    panel = np.concatenate([heatmap(csi_to_2d(csi[0]), (top, width)),
                            heatmap(csi_to_2d(csi[1]), (height - top, width))])
    for text, y in (('amplitude', 14), ('phase', top + 14)):
        cv2.putText(panel, text, (3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return panel
