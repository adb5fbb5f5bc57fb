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
        # protocol 4: protocol 2 from Python 3 stores bytes through
        # _codecs.encode, which the safe unpickler (rightly) refuses
        pickle.dump({'Pdist_matrix': pdist}, f, protocol=4)
    return str(out)
