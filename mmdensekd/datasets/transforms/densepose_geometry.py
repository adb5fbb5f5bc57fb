# Copyright (c) mmdensekd contributors. All rights reserved.
"""Geometry of DensePose targets: box-frame remapping and horizontal flip.

DensePose targets live in the 256x256 frame of their box
(``x_img = x0 + x * w / 256``), so they are invariant to any transform that
moves the box with the image (resize, translation). Two operations need care:

* a box that is clipped to the image changes its frame: points and the
  segmentation are remapped into the new frame (:func:`remap_densepose`);
* a horizontal flip mirrors the frame (``x' = 256 - x``, the segmentation's
  columns reversed) and swaps body sides: fine part labels through
  ``FINE_PART_FLIP``, coarse labels through ``COARSE_PART_FLIP`` and the chart
  coordinates through the symmetry table of ``UV_symmetry_transforms.mat``
  (:func:`hflip_densepose`).
"""
import os.path as osp
from typing import Dict

import numpy as np
import torch

from mmdensekd.structures import (
    COARSE_PART_FLIP,
    DP_BOX_SIZE,
    FINE_PART_FLIP,
    NUM_FINE_PARTS,
    DensePoseTargets,
)

#: Where users obtain the DensePose UV symmetry table.
UV_SYMMETRY_URL = 'https://dl.fbaipublicfiles.com/densepose/data/UV_symmetry_transforms.mat'


def load_uv_symmetry(path: str) -> Dict[str, np.ndarray]:
    """Load the DensePose UV symmetry table (``UV_symmetry_transforms.mat``).

    The file holds ``U_transforms`` and ``V_transforms``, each a 1x24 MATLAB
    cell array of 256x256 arrays: for fine part ``p`` (1..24) and a point
    with chart coordinates ``(U, V)``, the mirrored point has
    ``U' = U_transforms{p}(v, u)`` and ``V' = V_transforms{p}(v, u)`` with
    ``u = floor(255 * U)``, ``v = floor(255 * V)`` (row = V, column = U).

    Args:
        path (str): Local path of the .mat file.

    Returns:
        dict: ``'U'`` and ``'V'``, each a (24, 256, 256) float32 array.

    Raises:
        FileNotFoundError: The file does not exist (the message says where to
            obtain it).
        ValueError: The file does not have the expected structure.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'DensePose UV symmetry file {path} not found. DensePose horizontal flip '
            f'needs it to mirror U/V; download UV_symmetry_transforms.mat from '
            f'{UV_SYMMETRY_URL} and set uv_symmetry_file to its local path.')
    import scipy.io
    try:
        raw = scipy.io.loadmat(path)
    except Exception as err:
        raise ValueError(f'cannot read DensePose UV symmetry file {path}: {err}') from err
    table = {}
    for key, name in (('U', 'U_transforms'), ('V', 'V_transforms')):
        if name not in raw:
            raise ValueError(f'DensePose UV symmetry file {path} has no {name!r} '
                             f'(expected U_transforms and V_transforms)')
        cells = np.asarray(raw[name])
        if cells.dtype != object or cells.size != NUM_FINE_PARTS:
            raise ValueError(f'{name} in {path} must be a cell array of '
                             f'{NUM_FINE_PARTS} arrays, got {cells.dtype} of shape '
                             f'{cells.shape}')
        arrays = [np.asarray(cell, dtype=np.float32) for cell in cells.reshape(-1)]
        if (len(arrays) != NUM_FINE_PARTS
                or any(a.shape != (DP_BOX_SIZE, DP_BOX_SIZE) for a in arrays)):
            raise ValueError(f'{name} in {path} must be {NUM_FINE_PARTS} arrays of '
                             f'shape ({DP_BOX_SIZE}, {DP_BOX_SIZE})')
        table[key] = np.stack(arrays)
    return table


def _uv_index(values: np.ndarray) -> np.ndarray:
    # floor(255 * value) as in detectron2 DensePose; the epsilon (1/1000 of a
    # cell) keeps values stored as k / 255 in float32 on cell k.
    return np.clip(np.floor(values.astype(np.float64) * 255 + 1e-3), 0, 255).astype(np.int64)


def hflip_points(points: torch.Tensor, uv_symmetry: Dict[str, np.ndarray]) -> torch.Tensor:
    """Mirror DensePose points of one instance horizontally.

    Args:
        points (Tensor): (P, 5) ``[x, y, I, U, V]`` in the box frame, or
            (P, 6) with a per-point U/V variance in the last column.
        uv_symmetry (dict): Table from :func:`load_uv_symmetry`.

    Returns:
        Tensor: mirrored points of the same shape: ``x' = 256 - x``,
        ``I' = FINE_PART_FLIP[I]`` and ``U', V'`` read from the table of the
        original part ``I`` at ``(floor(255 V), floor(255 U))``; the variance
        stays with its point (an isotropic U/V variance is unchanged by the
        mirrored chart).
    """
    if len(points) == 0:
        return points.clone()
    pts = points.detach().cpu().numpy().astype(np.float64)
    part = pts[:, 2].round().astype(np.int64)
    u_idx, v_idx = _uv_index(pts[:, 3]), _uv_index(pts[:, 4])
    flipped = pts.copy()
    flipped[:, 0] = DP_BOX_SIZE - pts[:, 0]
    flipped[:, 2] = np.asarray(FINE_PART_FLIP)[part]
    flipped[:, 3] = uv_symmetry['U'][part - 1, v_idx, u_idx]
    flipped[:, 4] = uv_symmetry['V'][part - 1, v_idx, u_idx]
    return torch.from_numpy(flipped).to(points.dtype)


def hflip_segms(segms: torch.Tensor) -> torch.Tensor:
    """Mirror merged coarse segmentations (N, 256, 256) and swap their labels."""
    lut = torch.as_tensor(COARSE_PART_FLIP, dtype=torch.long, device=segms.device)
    return lut[segms.flip(-1).long()].to(segms.dtype)


def hflip_densepose(targets: DensePoseTargets,
                    uv_symmetry: Dict[str, np.ndarray]) -> DensePoseTargets:
    """Mirror all instances of ``targets`` horizontally (box frames mirrored).

    Args:
        targets (DensePoseTargets): Targets of N instances.
        uv_symmetry (dict): Table from :func:`load_uv_symmetry`.

    Returns:
        DensePoseTargets: Targets in the frames of the mirrored boxes.
    """
    return DensePoseTargets([hflip_points(p, uv_symmetry) for p in targets.points],
                            hflip_segms(targets.segms), targets.has_dp.clone(),
                            targets.has_segm.clone())


def remap_densepose(targets: DensePoseTargets, old_boxes: np.ndarray,
                    new_boxes: np.ndarray, eps: float = 1e-4) -> DensePoseTargets:
    """Move DensePose targets from the frames of ``old_boxes`` to ``new_boxes``.

    Used when a box is clipped (``new`` inside ``old``): a point keeps its image
    position, ``x' = ((x0 + x * w / 256) - x0') * 256 / w'`` (same for y);
    points that fall outside the new box are dropped; the segmentation is
    resampled (nearest) at the centres of the new frame's cells. An instance
    whose new box is empty loses its DensePose annotation (``has_dp`` and
    ``has_segm`` False). Instances whose box did not change are untouched.

    Args:
        targets (DensePoseTargets): Targets of N instances.
        old_boxes (np.ndarray): (N, 4) xyxy boxes the targets refer to.
        new_boxes (np.ndarray): (N, 4) xyxy boxes after the change.
        eps (float): Box change (pixels) below which nothing is remapped.

    Returns:
        DensePoseTargets: The remapped targets.
    """
    old_boxes = np.asarray(old_boxes, dtype=np.float64).reshape(-1, 4)
    new_boxes = np.asarray(new_boxes, dtype=np.float64).reshape(-1, 4)
    points = list(targets.points)
    segms = targets.segms.clone()
    has_dp, has_segm = targets.has_dp.clone(), targets.has_segm.clone()
    size = DP_BOX_SIZE
    centres = np.arange(size) + 0.5
    for i in range(len(targets)):
        old, new = old_boxes[i], new_boxes[i]
        if np.abs(old - new).max() <= eps:
            continue
        old_w, old_h = old[2] - old[0], old[3] - old[1]
        new_w, new_h = new[2] - new[0], new[3] - new[1]
        if new_w <= eps or new_h <= eps or old_w <= eps or old_h <= eps:
            points[i] = points[i][:0].clone()  # no point, same columns
            segms[i] = 0
            has_dp[i] = False
            has_segm[i] = False
            continue
        pts = points[i]
        if len(pts) > 0:
            xy = pts[:, :2].detach().cpu().numpy().astype(np.float64)
            x = ((old[0] + xy[:, 0] * old_w / size) - new[0]) * size / new_w
            y = ((old[1] + xy[:, 1] * old_h / size) - new[1]) * size / new_h
            keep = (x >= 0) & (x <= size) & (y >= 0) & (y <= size)
            new_pts = pts.clone()
            new_pts[:, 0] = torch.from_numpy(x).to(pts.dtype)
            new_pts[:, 1] = torch.from_numpy(y).to(pts.dtype)
            points[i] = new_pts[torch.from_numpy(keep)]
            if not keep.any():
                has_dp[i] = False
        cols = ((new[0] + centres * new_w / size) - old[0]) * size / old_w
        rows = ((new[1] + centres * new_h / size) - old[1]) * size / old_h
        cols = torch.from_numpy(np.clip(np.floor(cols), 0, size - 1).astype(np.int64))
        rows = torch.from_numpy(np.clip(np.floor(rows), 0, size - 1).astype(np.int64))
        segms[i] = targets.segms[i][rows][:, cols]
    return DensePoseTargets(points, segms, has_dp, has_segm)


def validate_geometric_targets(results: dict, step: str) -> dict:
    """Check the targets a geometric transform produced; name a bad one.

    A box whose width or height is not positive (or not finite), a visible
    keypoint or a DensePose point that is not finite would only surface as a
    NaN loss much later, without the image. This check runs after every
    geometric transform of the project (and when packing), so the error names
    the image, the instance and the step that produced it.

    Args:
        results (dict): The pipeline's results (``gt_bboxes``,
            ``gt_ignore_flags``, ``gt_keypoints``, ``gt_keypoints_visible``,
            ``gt_densepose``, ``img_path``, ``img_id``, ``instances``).
        step (str): The transform's name, for the message.

    Returns:
        dict: ``results`` unchanged.

    Raises:
        ValueError: naming the step, image file, image id, instance (and
            annotation id when known) and the bad value.
    """
    instances = results.get('instances') or []

    def where(i: int) -> str:
        ann = ''
        if len(instances) > i and isinstance(instances[i], dict) and \
                instances[i].get('ann_id') is not None:
            ann = f', annotation id {instances[i]["ann_id"]}'
        shape = results.get('img_shape')
        size = f' (image {shape[1]}x{shape[0]})' if shape is not None else ''
        return (f'{step}: image {results.get("img_path")} (image id {results.get("img_id")})'
                f', instance {i}{ann}{size}')

    boxes = results.get('gt_bboxes', None)
    if boxes is not None:
        arr = boxes.tensor.detach().cpu().numpy() if hasattr(boxes, 'tensor') else np.asarray(
            boxes, dtype=np.float64)
        arr = arr.reshape(-1, 4) if arr.size else arr.reshape(0, 4)
        flags = results.get('gt_ignore_flags', None)
        ignored = np.asarray(flags, bool) if flags is not None else np.zeros(len(arr), bool)
        for i in range(len(arr)):
            box = arr[i]
            if not np.isfinite(box).all():
                raise ValueError(f'{where(i)}: box {box.tolist()} is not finite')
            if not ignored[i] and (box[2] <= box[0] or box[3] <= box[1]):
                raise ValueError(f'{where(i)}: degenerate box {np.round(box, 3).tolist()} '
                                 '(width or height <= 0); does the image file match its '
                                 'annotation?')
    kpts = results.get('gt_keypoints', None)
    if kpts is not None and len(kpts):
        kpts = np.asarray(kpts, dtype=np.float64)
        visible = results.get('gt_keypoints_visible', None)
        mask = np.asarray(visible) > 0 if visible is not None else np.ones(kpts.shape[:-1],
                                                                           bool)
        bad = mask & ~np.isfinite(kpts).all(-1)
        if bad.any():
            i, k = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f'{where(i)}: visible keypoint {k} is {kpts[i, k].tolist()}')
    densepose = results.get('gt_densepose', None)
    if isinstance(densepose, DensePoseTargets):
        for i, pts in enumerate(densepose.points):
            if len(pts) and not bool(torch.isfinite(pts).all()):
                raise ValueError(f'{where(i)}: DensePose points are not finite')
    return results
