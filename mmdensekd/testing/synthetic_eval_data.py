# Copyright (c) mmdensekd contributors. All rights reserved.
"""A small synthetic SMPL-subdiv mesh in the file structure of the official
DensePose evaluation files, for tests (``mmdensekd.testing``).

Parts 1..6 each carry an 11x11 grid of vertices at U, V in {0, 0.1, ..., 1}
(vertex order: part, then U, then V). Geodesic distance: within a part
0.5 * Euclidean (U, V) distance; across parts 0.2 + 0.05 * |part_a - part_b|.
Subdivided vertex s (0-based) maps to distance vertex N - s (1-based), and
the distance matrix is stored at the index given by the reference formula
(n = 27554), so the tests exercise the same file layout and index
arithmetic as the official files.
"""
import os.path as osp
import pickle

import numpy as np
from scipy.io import savemat

MESH_PARTS = 6
GRID = np.round(np.linspace(0, 1, 11), 10)


def mesh_vertices():
    """(part, u, v) arrays of the synthetic subdivided mesh."""
    part, u, v = np.meshgrid(np.arange(1, MESH_PARTS + 1), GRID, GRID, indexing='ij')
    return part.reshape(-1), u.reshape(-1), v.reshape(-1)


def mesh_geodesic(pa, ua, va, pb, ub, vb):
    """The synthetic geodesic distance between two mesh points."""
    same = 0.5 * np.sqrt((ua - ub)**2 + (va - vb)**2)
    return np.where(pa == pb, same, 0.2 + 0.05 * np.abs(pa - pb))


def reference_pdist_index(i1, i2):
    """Index into Pdist_matrix of two 1-based distance-vertex ids, written out
    as in the reference evaluation (n = 27554, float arithmetic)."""
    n = 27554
    i, j = float(i1 - 1), float(i2 - 1)
    if j > i:
        i, j = j, i
    i = n - i - 1
    j = n - j - 1
    k = (n * (n - 1) / 2) - (n - i) * ((n - i) - 1) / 2 + j - i - 1
    k = (n * n - n) / 2 - k - 1
    return int(k)


def write_synthetic_eval_data(out: str) -> str:
    """Write the three evaluation files of the synthetic mesh into ``out``."""
    part, u, v = mesh_vertices()
    num = len(part)
    savemat(osp.join(out, 'SMPL_subdiv.mat'),
            dict(Part_ID_subdiv=part[None].astype(np.float64), U_subdiv=u[None],
                 V_subdiv=v[None]))
    transform = num - np.arange(num)  # 1-based, reversed
    savemat(osp.join(out, 'SMPL_SUBDIV_TRANSFORM.mat'), dict(index=transform[:, None]))
    pdist = np.zeros((num * (num - 1) // 2, 1))
    a, b = np.triu_indices(num, k=1)
    geo = mesh_geodesic(part[a], u[a], v[a], part[b], u[b], v[b])
    idx = [reference_pdist_index(transform[x], transform[y]) for x, y in zip(a, b)]
    pdist[idx, 0] = geo
    with open(osp.join(out, 'Pdist_matrix.pkl'), 'wb') as f:
        # protocol 4 (the safe unpickler also reads protocol 0-3 files, whose
        # bytes go through a restricted _codecs.encode)
        pickle.dump({'Pdist_matrix': pdist}, f, protocol=4)
    return str(out)


def synthetic_chart(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth box-sized (3, h, w) uint8 IUV chart: an ellipse of 24 part
    patches with U, V ramps inside each patch (compresses like real charts)."""
    yy, xx = np.mgrid[:height, :width]
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.4, 0.6)
    rx, ry = width * rng.uniform(0.3, 0.5), height * rng.uniform(0.35, 0.5)
    inside = ((xx - cx) / rx)**2 + ((yy - cy) / ry)**2 < 1
    parts = 1 + (int(rng.integers(0, 24)) + (yy * 6 // height) * 4 + xx * 4 // width) % 24
    u = (xx * 4 % width) * 255 // width
    v = (yy * 6 % height) * 255 // height
    return np.stack([parts, u, v]).astype(np.uint8) * inside.astype(np.uint8)


def synthetic_densepose_case(rng: np.random.Generator, num_images: int, num_instances: int,
                             dets_per_instance: int = 3, num_points: int = 100,
                             img_size: tuple = (480, 640)):
    """A DensePose-COCO-like ground truth and matching results.

    Every person has a chart; its ground truth (14 coarse-part RLE masks,
    ``num_points`` points with I, U, V read from the chart) and
    ``dets_per_instance`` detections (jittered boxes carrying the chart
    resized to them) derive from it, plus one false positive per image, so
    GPS, GPSm and IOU are all informative.

    Args:
        rng (np.random.Generator): random source.
        num_images (int): images (each gets at least one person).
        num_instances (int): annotated persons (>= ``num_images``).
        dets_per_instance (int): detections per person.
        num_points (int): DensePose points per person.
        img_size (tuple): image (height, width).

    Returns:
        tuple[dict, list[dict]]: the ground-truth dict and the results with
        an in-memory ``iuv`` (see
        :func:`~mmdensekd.evaluation.functional.to_challenge_format`).
    """
    from pycocotools import mask as mask_utils
    img_h, img_w = img_size
    gt = dict(images=[dict(id=i + 1, height=img_h, width=img_w) for i in range(num_images)],
              annotations=[], categories=[dict(id=1, name='person')])
    results = []
    img_of = np.sort(np.concatenate([np.arange(num_images),
                                     rng.integers(0, num_images, num_instances - num_images)]))
    for n, i in enumerate(img_of):
        w, h = float(rng.uniform(40, 300)), float(rng.uniform(80, 400))
        x, y = float(rng.uniform(0, img_w - w)), float(rng.uniform(0, img_h - h))
        chart = synthetic_chart(rng, 256, 256)
        masks = []
        for k in range(14):
            m = (chart[0] > 0) & ((chart[0].astype(np.int64) - 1) % 14 == k)
            if m.any():
                rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                rle['counts'] = rle['counts'].decode()
                masks.append(rle)
            else:
                masks.append([])
        fy, fx = np.nonzero(chart[0])
        pick = rng.integers(0, len(fy), num_points)
        dp_x = fx[pick] + rng.uniform(0, 1, num_points)
        dp_y = fy[pick] + rng.uniform(0, 1, num_points)
        gt['annotations'].append(dict(
            id=n + 1, image_id=int(i) + 1, category_id=1, iscrowd=0, bbox=[x, y, w, h],
            area=w * h * 0.6, dp_x=dp_x.tolist(), dp_y=dp_y.tolist(),
            dp_I=chart[0, fy[pick], fx[pick]].astype(int).tolist(),
            dp_U=(chart[1, fy[pick], fx[pick]] / 255.0).tolist(),
            dp_V=(chart[2, fy[pick], fx[pick]] / 255.0).tolist(), dp_masks=masks))
        for _ in range(dets_per_instance):
            bx, by = x + float(rng.normal(0, 5)), y + float(rng.normal(0, 5))
            bw, bh = w * float(rng.uniform(0.9, 1.1)), h * float(rng.uniform(0.9, 1.1))
            cw, ch = max(int(bw), 1), max(int(bh), 1)
            rows, cols = np.arange(ch) * 256 // ch, np.arange(cw) * 256 // cw
            results.append(dict(image_id=int(i) + 1, category_id=1,
                                score=float(rng.uniform(0.3, 1)), bbox=[bx, by, bw, bh],
                                iuv=np.ascontiguousarray(chart[:, rows][:, :, cols])))
    for i in range(num_images):
        fw, fh = int(rng.integers(30, 200)), int(rng.integers(60, 300))
        results.append(dict(image_id=i + 1, category_id=1, score=float(rng.uniform(0, 0.5)),
                            bbox=[float(rng.uniform(0, img_w - fw)),
                                  float(rng.uniform(0, img_h - fh)), fw, fh],
                            iuv=synthetic_chart(rng, fw, fh)))
    return gt, results


def write_full_size_eval_data(out: str, rng: np.random.Generator, verts_per_part: int = 287,
                              copies: int = 4) -> str:
    """Write evaluation files of the official sizes (24 parts, 27,552
    subdivided vertices on 6,888 distance vertices, 23.7 M distances) into
    ``out``, with the synthetic geodesic of :func:`mesh_geodesic` so that GPS
    is informative. Distances are stored as float32 in condensed order.

    Args:
        out (str): directory.
        rng (np.random.Generator): random vertex positions.
        verts_per_part (int): distance vertices per part.
        copies (int): subdivided vertices per distance vertex.

    Returns:
        str: ``out``.
    """
    base_part = np.repeat(np.arange(1, 25), verts_per_part)
    base_u, base_v = rng.uniform(size=len(base_part)), rng.uniform(size=len(base_part))
    num = len(base_part)
    jitter = rng.normal(0, 0.002, (2, copies, num))
    part = np.tile(base_part, copies)
    u = np.clip(np.tile(base_u, copies) + jitter[0].reshape(-1), 0, 1)
    v = np.clip(np.tile(base_v, copies) + jitter[1].reshape(-1), 0, 1)
    savemat(osp.join(out, 'SMPL_subdiv.mat'),
            dict(Part_ID_subdiv=part[None].astype(np.float64), U_subdiv=u[None], V_subdiv=v[None]))
    transform = np.tile(np.arange(1, num + 1), copies)
    savemat(osp.join(out, 'SMPL_SUBDIV_TRANSFORM.mat'), dict(index=transform[:, None]))
    pdist = np.zeros((num * (num - 1) // 2, 1), dtype=np.float32)
    for a in range(1, num):  # condensed lower triangle: (a, b < a) at a (a - 1) / 2 + b
        pdist[a * (a - 1) // 2:a * (a + 1) // 2, 0] = mesh_geodesic(
            base_part[a], base_u[a], base_v[a], base_part[:a], base_u[:a], base_v[:a])
    with open(osp.join(out, 'Pdist_matrix.pkl'), 'wb') as f:
        pickle.dump({'Pdist_matrix': pdist}, f, protocol=4)
    return str(out)
