# Copyright (c) mmdensekd contributors. All rights reserved.
"""Geodesic evaluation files of the synthetic primitive body.

The DensePose GPS metric needs ``SMPL_subdiv.mat`` (vertex part, U, V),
``SMPL_SUBDIV_TRANSFORM.mat`` (``index``: vertex -> distance vertex, 1-based)
and ``Pdist_matrix.pkl`` (condensed pairwise geodesic distances, entry
``a * (a - 1) / 2 + b`` for 0-based vertices ``a > b``), see
:mod:`mmdensekd.evaluation.functional.densepose_eval_data`. Here the mesh is
the canonical synthetic body (default :class:`BodyShape`, A-pose): every
capsule is sampled on a grid of ``num_rings`` rings along its axis and
``num_around`` points around, each vertex carries the (I, U, V) of
:func:`surface_iuv`, and geodesic distances are shortest paths (metres) over
the grid edges plus short edges joining touching capsules
(``scipy.sparse.csgraph``). The distance-vertex index is the identity.
"""
import io
import os
import os.path as osp
import pickle
from typing import Dict

import numpy as np
from scipy.io import savemat
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path
from scipy.spatial import cKDTree

from .body import BodyShape, Primitives, build_body, surface_iuv

#: Text written in the 116-byte header of every ``.mat`` file, so files are
#: byte-identical across runs (scipy writes the creation time otherwise).
MAT_HEADER = b'MATLAB 5.0 MAT-file, written by mmdensekd.simulation'


def canonical_pose() -> Dict[str, float]:
    """The A-pose of the evaluation mesh (arms 20 degrees from the body)."""
    pose = dict(bend=0.0, lean=0.0, nod=0.0, head_yaw=0.0, kind='standing')
    for s in ('r', 'l'):
        pose.update({f'hip_{s}': 0.0, f'hip_abd_{s}': 0.05, f'knee_{s}': 0.0,
                     f'foot_{s}': 0.0, f'sh_flex_{s}': 0.0, f'sh_abd_{s}': 0.35,
                     f'elbow_{s}': 0.1})
    return pose


def savemat_bytes(data: Dict[str, np.ndarray]) -> bytes:
    """MAT v5 bytes of ``data`` with a fixed header (deterministic).

    Args:
        data (dict): Variable name -> array.

    Returns:
        bytes: The file content.
    """
    buf = io.BytesIO()
    savemat(buf, data, do_compression=False)
    raw = bytearray(buf.getvalue())
    raw[:116] = MAT_HEADER.ljust(116, b' ')
    return bytes(raw)


def sample_surface(prims: Primitives, num_rings: int, num_around: int):
    """Grid vertices on every capsule.

    Returns:
        tuple: (V, 3) world points, (V,) fine part, U, V, (V,) capsule index
        and (V,) grid (ring, around) indices as two arrays.
    """
    ring, around = np.meshgrid(np.arange(num_rings), np.arange(num_around), indexing='ij')
    ring, around = ring.reshape(-1), around.reshape(-1)
    pts, fine, us, vs, prim_of = [], [], [], [], []
    for p in range(len(prims)):
        h = float(prims.h[p])
        s = (ring + 0.5) / num_rings
        z = s * (h + 2.0) - 1.0
        rho = np.where(z < 0, np.sqrt(np.clip(1 - z * z, 0, 1)),
                       np.where(z > h, np.sqrt(np.clip(1 - (z - h)**2, 0, 1)), 1.0))
        phi = -np.pi + (around + 0.5) * 2 * np.pi / num_around
        q = np.stack([rho * np.sin(phi), rho * np.cos(phi), z], axis=1)
        world = prims.a[p][None] + (q * prims.radii[p][None]) @ prims.rot[p].T
        f, u, v = surface_iuv(q, np.full(len(q), prims.part[p]), np.full(len(q), h))
        pts.append(world)
        fine.append(f)
        us.append(u)
        vs.append(v)
        prim_of.append(np.full(len(q), p))
    return (np.concatenate(pts), np.concatenate(fine), np.concatenate(us), np.concatenate(vs),
            np.concatenate(prim_of), ring, around)


def build_geodesics(num_rings: int = 10, num_around: int = 12, join_dist: float = 0.05):
    """Vertices (I, U, V) and all-pairs geodesic distances of the body mesh.

    Args:
        num_rings (int): Rings per capsule.
        num_around (int): Vertices per ring.
        join_dist (float): Vertices of different capsules closer than this
            (metres) are joined by an edge.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: (V,) fine part,
        U, V and the (V, V) distance matrix.
    """
    _, prims, _ = build_body(BodyShape(), canonical_pose(), 0.0, (0.0, 0.0))
    pts, fine, u, v, prim_of, ring, around = sample_surface(prims, num_rings, num_around)
    per = num_rings * num_around
    rows, cols = [], []
    for p in range(len(prims)):
        base = p * per
        idx = base + ring * num_around + around
        nxt_around = base + ring * num_around + (around + 1) % num_around
        rows += [idx, idx[ring < num_rings - 1]]
        cols += [nxt_around, idx[ring < num_rings - 1] + num_around]
    tree = cKDTree(pts)
    pairs = np.array(sorted(tree.query_pairs(join_dist)), dtype=np.int64).reshape(-1, 2)
    pairs = pairs[prim_of[pairs[:, 0]] != prim_of[pairs[:, 1]]]
    rows.append(pairs[:, 0])
    cols.append(pairs[:, 1])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    n = len(pts)
    # join any leftover components through their closest vertex pair
    while True:
        weights = np.linalg.norm(pts[rows] - pts[cols], axis=1) + 1e-9
        graph = coo_matrix((weights, (rows, cols)), shape=(n, n)).tocsr()
        num, comp = connected_components(graph, directed=False)
        if num == 1:
            break
        main = np.nonzero(comp == comp[0])[0]
        other = np.nonzero(comp != comp[0])[0]
        dist, near = cKDTree(pts[main]).query(pts[other])
        k = int(np.argmin(dist))
        rows = np.append(rows, main[near[k]])
        cols = np.append(cols, other[k])
    dist = shortest_path(graph, method='D', directed=False)
    return fine, u, v, dist


def write_eval_data(out_dir: str, num_rings: int = 10, num_around: int = 12) -> str:
    """Write the three geodesic evaluation files of the synthetic body.

    Args:
        out_dir (str): Directory (created if needed).
        num_rings (int): Rings per capsule.
        num_around (int): Vertices per ring.

    Returns:
        str: ``out_dir``.
    """
    os.makedirs(out_dir, exist_ok=True)
    fine, u, v, dist = build_geodesics(num_rings, num_around)
    n = len(fine)
    files = {
        'SMPL_subdiv.mat': savemat_bytes(dict(
            Part_ID_subdiv=fine.astype(np.float64)[:, None], U_subdiv=u[:, None],
            V_subdiv=v[:, None])),
        'SMPL_SUBDIV_TRANSFORM.mat': savemat_bytes(dict(
            index=np.arange(1, n + 1, dtype=np.float64)[:, None])),
    }
    lower = dist[np.tril_indices(n, -1)].astype(np.float32)[:, None]
    files['Pdist_matrix.pkl'] = pickle.dumps({'Pdist_matrix': lower}, protocol=4)
    for name, data in files.items():
        with open(osp.join(out_dir, name), 'wb') as f:
            f.write(data)
    return out_dir
