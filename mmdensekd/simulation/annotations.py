# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose-COCO annotations of a rendered frame, from its exact labels.

Per visible person: ``bbox`` (tight around the visible pixels), ``area``,
``segmentation`` (image RLE), 17 ``keypoints`` (v = 2 visible, 1 occluded
— by the person, another person or furniture — 0 outside the image, then
x = y = 0), and the DensePose fields: ``dp_masks`` (14 coarse RLE masks in
the 256x256 box frame; cell ``(jy, jx)`` takes the label of the pixel under
its centre ``x0 + (jx + 0.5) * w / 256``) and about ``num_points`` points
sampled uniformly from the person's visible pixels: ``dp_x, dp_y`` is the
pixel centre in the box frame and ``dp_I, dp_U, dp_V`` the exact label of
the ray through it (a point whose mask cell holds another coarse part, which
can happen at part edges of boxes wider than 256 px, is not used). A person
with fewer than
``min_area`` visible pixels is marked ``iscrowd`` (an ignore region).
"""
from typing import Dict, List

import numpy as np
from pycocotools import mask as mask_utils

from .renderer import Camera
from .scene import FrameScene

DP_SIZE = 256
NUM_COARSE = 14
#: Depth tolerance (m) of the visibility test: face points lie on the head
#: surface, other joints inside their limb.
FACE_TOL, JOINT_TOL = 0.05, 0.14


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def keypoint_visibility(camera: Camera, joints: np.ndarray, labels: Dict[str, np.ndarray],
                        person: int) -> np.ndarray:
    """COCO (x, y, v) of one person's 17 joints.

    Args:
        camera (Camera): The camera.
        joints (np.ndarray): (17, 3) world joints.
        labels (dict): Label images of the frame.
        person (int): The person's index.

    Returns:
        np.ndarray: (17, 3) float64 ``x, y, v``.
    """
    uv, depth = camera.project(joints)
    out = np.zeros((len(joints), 3))
    h, w = labels['person'].shape
    for k in range(len(joints)):
        x, y = uv[k]
        if depth[k] <= 0 or not (0 <= x < w and 0 <= y < h):
            continue
        px, py = int(np.floor(x)), int(np.floor(y))
        tol = FACE_TOL if k < 5 else JOINT_TOL
        seen = labels['person'][py, px] == person and labels['depth'][py, px] >= depth[k] - tol
        out[k] = (x, y, 2.0 if seen else 1.0)
    return out


def box_frame_labels(part: np.ndarray, box: List[int]) -> np.ndarray:
    """(256, 256) coarse part labels of a box (nearest pixel under each cell).

    Args:
        part (np.ndarray): (H, W) coarse part of one person (0 elsewhere).
        box (list[int]): ``x0, y0, w, h``.

    Returns:
        np.ndarray: (256, 256) int labels 0..14.
    """
    x0, y0, w, h = box
    cells = np.arange(DP_SIZE) + 0.5
    sx = x0 + np.floor(cells * w / DP_SIZE).astype(np.int64)
    sy = y0 + np.floor(cells * h / DP_SIZE).astype(np.int64)
    return part[sy][:, sx]


def annotate_frame(scene: FrameScene, camera: Camera, labels: Dict[str, np.ndarray],
                   rng: np.random.Generator, num_points: int = 100,
                   min_area: int = 40) -> List[dict]:
    """Annotations (without ``id`` / ``image_id``) of every visible person.

    Args:
        scene (FrameScene): The frame.
        camera (Camera): Its camera.
        labels (dict): Label images of :func:`render_labels`.
        rng (np.random.Generator): Random source of the point sampling.
        num_points (int): DensePose points per person (at most).
        min_area (int): Fewer visible pixels make an ignore (crowd) region.

    Returns:
        list[dict]: DensePose-COCO person annotations, in person order
        (people not visible at all are left out).
    """
    anns = []
    for i in range(len(scene.people)):
        mask = labels['person'] == i
        area = int(mask.sum())
        if area == 0:
            continue
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        w, h = int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0
        kpts = keypoint_visibility(camera, scene.joints[i], labels, i)
        ann = dict(category_id=1, bbox=[x0, y0, w, h], area=area, segmentation=_rle(mask),
                   iscrowd=0, keypoints=[round(float(x), 3) for x in kpts.reshape(-1)],
                   num_keypoints=int((kpts[:, 2] > 0).sum()))
        if area < min_area:
            ann['iscrowd'] = 1
            anns.append(ann)
            continue
        cells = box_frame_labels(np.where(mask, labels['part'], 0), [x0, y0, w, h])
        ann['dp_masks'] = [_rle(cells == c + 1) if (cells == c + 1).any() else []
                           for c in range(NUM_COARSE)]
        order = rng.permutation(len(ys))[:int(num_points * 1.2) + 4]
        px, py = xs[order], ys[order]
        dp_x = (px + 0.5 - x0) * DP_SIZE / w
        dp_y = (py + 0.5 - y0) * DP_SIZE / h
        cell = cells[np.clip(dp_y.astype(np.int64), 0, DP_SIZE - 1),
                     np.clip(dp_x.astype(np.int64), 0, DP_SIZE - 1)]
        keep = np.nonzero(cell == labels['part'][py, px])[0][:num_points]
        px, py = px[keep], py[keep]
        ann.update(dp_x=[float(x) for x in dp_x[keep]], dp_y=[float(y) for y in dp_y[keep]],
                   dp_I=[int(p) for p in labels['fine'][py, px]],
                   dp_U=[round(float(u), 6) for u in labels['u'][py, px]],
                   dp_V=[round(float(v), 6) for v in labels['v'][py, px]])
        anns.append(ann)
    return anns
