# Copyright (c) mmdensekd contributors. All rights reserved.
"""Geodesic data of the COCO DensePose evaluation (the SMPL subdivided mesh).

Three official files, kept in one local directory, define the geodesic
distance between two surface points given as (I, U, V):

* ``SMPL_subdiv.mat``: ``Part_ID_subdiv`` (part 1..24), ``U_subdiv`` and
  ``V_subdiv`` of every vertex of the subdivided SMPL mesh (V_s vertices);
* ``SMPL_SUBDIV_TRANSFORM.mat``: ``index`` (V_s,), for every subdivided
  vertex the 1-based vertex id used by the distance matrix;
* ``Pdist_matrix.pkl``: a pickled dict whose ``'Pdist_matrix'`` (M, 1) holds
  the pairwise geodesic distances of the V_p distance vertices in condensed
  lower-triangular order: the distance of the 0-based vertices ``a > b`` is
  entry ``a * (a - 1) / 2 + b`` (``M = V_p (V_p - 1) / 2``).

A point (I, U, V) maps to the vertex of part I nearest in (U, V) (Euclidean,
first vertex on ties), then through ``index``. Users without the files get a
clear message naming the missing file and ``EVAL_DATA_URL``.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log
from scipy.io import loadmat
from scipy.spatial import cKDTree

from mmdensekd.utils.safe_pickle import safe_load_pickle

#: Where users obtain the official files (see
#: ``tools/misc/download_densepose_eval_data.sh``).
EVAL_DATA_URL = 'https://dl.fbaipublicfiles.com/densepose/data/'
SMPL_SUBDIV_FILE = 'SMPL_subdiv.mat'
SUBDIV_TRANSFORM_FILE = 'SMPL_SUBDIV_TRANSFORM.mat'
PDIST_FILE = 'Pdist_matrix.pkl'
EVAL_DATA_FILES = (SMPL_SUBDIV_FILE, SUBDIV_TRANSFORM_FILE, PDIST_FILE)
#: Environment variable naming the directory when the config does not.
EVAL_DATA_ENV = 'MMDENSEKD_EVAL_DATA'

#: Mean geodesic distance (metres) of each geodesic part group, the per-part
#: GPS normalisation of the COCO DensePose evaluation since 2019
#: (index 0 unused).
PART_MEAN_GEODESIC = np.array([0, 0.351, 0.107, 0.126, 0.237, 0.173, 0.142, 0.128, 0.150])
#: Geodesic part group of every fine part (index = fine part 0..24): torso,
#: hands, feet, upper legs, lower legs, upper arms, lower arms, head.
FINE_TO_GEODESIC_GROUP = np.array(
    [0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8])
#: The single normalisation constant of the 2018 challenge GPS.
GPS_KAPPA_2018 = 0.255
NUM_PARTS = 24
_QUANT = 256  # U, V of predictions are quantised to 0..255

_CACHE: Dict[Tuple, 'DensePoseEvalData'] = {}


def gps_normalisation(parts: np.ndarray, kappa: Optional[float] = None) -> np.ndarray:
    """Per-point GPS normalisation constants.

    Args:
        parts (np.ndarray): (P,) fine part labels 1..24 of ground-truth points.
        kappa (float, optional): one constant for all points (the 2018
            challenge used 0.255). None uses the per-part mean geodesic
            distances of the current protocol.

    Returns:
        np.ndarray: (P,) float64 constants.
    """
    parts = np.asarray(parts, dtype=np.int64)
    if kappa is not None:
        return np.full(parts.shape, float(kappa))
    return PART_MEAN_GEODESIC[FINE_TO_GEODESIC_GROUP[np.clip(parts, 0, NUM_PARTS)]]


class DensePoseEvalData:
    """Closest-vertex lookup and geodesic distances on the SMPL subdiv mesh.

    Shapes: V_s subdivided vertices, V_p distance vertices, P query points.

    Args:
        part_ids (np.ndarray): (V_s,) part 1..24 of each subdivided vertex.
        u (np.ndarray): (V_s,) U of each subdivided vertex.
        v (np.ndarray): (V_s,) V of each subdivided vertex.
        transform (np.ndarray): (V_s,) 1-based distance-vertex id of each
            subdivided vertex.
        pdist (np.ndarray): (V_p (V_p - 1) / 2,) condensed geodesic distances.
        source (str): where the data came from, for messages.
    """

    def __init__(self, part_ids: np.ndarray, u: np.ndarray, v: np.ndarray,
                 transform: np.ndarray, pdist: np.ndarray, source: str = '<memory>') -> None:
        part_ids = np.asarray(part_ids).reshape(-1).astype(np.int64)
        u = np.asarray(u, dtype=np.float64).reshape(-1)
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        transform = np.asarray(transform).reshape(-1).astype(np.int64)
        if not (len(part_ids) == len(u) == len(v) == len(transform)):
            raise ValueError(
                f'{source}: Part_ID_subdiv ({len(part_ids)}), U_subdiv ({len(u)}), V_subdiv '
                f'({len(v)}) and the subdiv transform index ({len(transform)}) differ in length')
        self.pdist = np.asarray(pdist).reshape(-1)
        num_vp = int(transform.max()) if len(transform) else 0
        if transform.min(initial=1) < 1 or len(self.pdist) < num_vp * (num_vp - 1) // 2:
            raise ValueError(
                f'{source}: {PDIST_FILE} holds {len(self.pdist)} distances, fewer than the '
                f'{num_vp * (num_vp - 1) // 2} needed by the ids (1..{num_vp}) of '
                f'{SUBDIV_TRANSFORM_FILE}')
        self.source = source
        self.transform = transform
        self._part_vertices: List[np.ndarray] = []
        self._part_uv: List[np.ndarray] = []
        self._part_tree: List[Optional[cKDTree]] = []
        for part in range(1, NUM_PARTS + 1):
            verts = np.nonzero(part_ids == part)[0]
            uv = np.stack([u[verts], v[verts]], axis=1)
            self._part_vertices.append(verts)
            self._part_uv.append(uv)
            self._part_tree.append(cKDTree(uv) if len(verts) else None)
        # Closest distance vertex of every quantised (I, U*255, V*255);
        # -1 = not computed yet, 0 = none (part without vertices).
        self._lut = np.full(NUM_PARTS * _QUANT * _QUANT, -1, dtype=np.int64)

    @classmethod
    def from_dir(cls, data_dir: str) -> 'DensePoseEvalData':
        """Read the three official files from ``data_dir``.

        Raises:
            FileNotFoundError: naming the first missing file and the URL.
        """
        missing = find_missing_eval_data(data_dir)
        if missing:
            raise FileNotFoundError(missing_eval_data_message(data_dir, missing))
        subdiv_path = osp.join(data_dir, SMPL_SUBDIV_FILE)
        subdiv = loadmat(subdiv_path)
        for key in ('Part_ID_subdiv', 'U_subdiv', 'V_subdiv'):
            if key not in subdiv:
                raise KeyError(f'{subdiv_path} has no array {key!r}')
        transform_path = osp.join(data_dir, SUBDIV_TRANSFORM_FILE)
        transform = loadmat(transform_path)
        if 'index' not in transform:
            raise KeyError(f'{transform_path} has no array \'index\'')
        pdist_path = osp.join(data_dir, PDIST_FILE)
        arrays = safe_load_pickle(pdist_path)
        if not isinstance(arrays, dict) or 'Pdist_matrix' not in arrays:
            raise KeyError(f'{pdist_path} is not a dict with key \'Pdist_matrix\'')
        return cls(subdiv['Part_ID_subdiv'], subdiv['U_subdiv'], subdiv['V_subdiv'],
                   transform['index'], arrays['Pdist_matrix'], source=data_dir)

    def closest_vertices(self, parts: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Distance-vertex id of the nearest subdivided vertex of each point.

        Args:
            parts (np.ndarray): (P,) fine part labels; values outside 1..24
                (background) have no vertex.
            u (np.ndarray): (P,) U in [0, 1].
            v (np.ndarray): (P,) V in [0, 1].

        Returns:
            np.ndarray: (P,) int64 1-based distance-vertex ids, 0 = no vertex.
        """
        parts = np.asarray(parts).reshape(-1).astype(np.int64)
        u = np.asarray(u, dtype=np.float64).reshape(-1)
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        out = np.zeros(len(parts), dtype=np.int64)
        for part in np.unique(parts):
            if part < 1 or part > NUM_PARTS or self._part_tree[part - 1] is None:
                continue
            sel = np.nonzero(parts == part)[0]
            uv = self._part_uv[part - 1]
            k = min(4, len(uv))
            # The tree proposes candidates; the exact distances (same
            # arithmetic as a dense Euclidean distance matrix) decide, the
            # lowest vertex index winning ties as argmin over all vertices does.
            _, cand = self._part_tree[part - 1].query(np.stack([u[sel], v[sel]], 1), k=k)
            cand = np.sort(np.asarray(cand).reshape(len(sel), k), axis=1)
            du = u[sel, None] - uv[cand, 0]
            dv = v[sel, None] - uv[cand, 1]
            dist = np.sqrt(du * du + dv * dv)
            best = cand[np.arange(len(sel)), np.argmin(dist, axis=1)]
            out[sel] = self.transform[self._part_vertices[part - 1][best]]
        return out

    def closest_vertices_quantized(self, parts: np.ndarray, u8: np.ndarray,
                                   v8: np.ndarray) -> np.ndarray:
        """:meth:`closest_vertices` of predictions with U, V stored as
        uint8 (value / 255), memoised in a (24, 256, 256) table.

        Args:
            parts (np.ndarray): (P,) fine part labels 0..255.
            u8 (np.ndarray): (P,) U * 255 as integers 0..255.
            v8 (np.ndarray): (P,) V * 255 as integers 0..255.

        Returns:
            np.ndarray: (P,) int64 distance-vertex ids, 0 = no vertex.
        """
        parts = np.asarray(parts).reshape(-1).astype(np.int64)
        out = np.zeros(len(parts), dtype=np.int64)
        ok = np.nonzero((parts >= 1) & (parts <= NUM_PARTS))[0]
        if len(ok) == 0:
            return out
        key = ((parts[ok] - 1) * _QUANT + np.asarray(u8).reshape(-1)[ok].astype(np.int64)
               ) * _QUANT + np.asarray(v8).reshape(-1)[ok].astype(np.int64)
        vals = self._lut[key]
        unknown = vals < 0
        if unknown.any():
            new = np.unique(key[unknown])
            self._lut[new] = self.closest_vertices(
                new // (_QUANT * _QUANT) + 1, (new // _QUANT) % _QUANT / 255.0,
                new % _QUANT / 255.0)
            vals = self._lut[key]
        out[ok] = vals
        return out

    def geodesic(self, verts_a: np.ndarray, verts_b: np.ndarray) -> np.ndarray:
        """Geodesic distances between distance vertices (1-based ids > 0).

        Args:
            verts_a (np.ndarray): (P,) vertex ids.
            verts_b (np.ndarray): (P,) vertex ids.

        Returns:
            np.ndarray: (P,) float64 distances (0 where the ids are equal).
        """
        hi = np.maximum(verts_a, verts_b).astype(np.int64) - 1
        lo = np.minimum(verts_a, verts_b).astype(np.int64) - 1
        same = hi == lo
        idx = np.where(same, 0, hi * (hi - 1) // 2 + lo)
        return np.where(same, 0.0, self.pdist[idx].astype(np.float64))


def resolve_eval_data_dir(data_dir: Optional[str]) -> Optional[str]:
    """``data_dir``, else the ``MMDENSEKD_EVAL_DATA`` environment variable."""
    if data_dir:
        return osp.expanduser(data_dir)
    env = os.environ.get(EVAL_DATA_ENV)
    return osp.expanduser(env) if env else None


def find_missing_eval_data(data_dir: Optional[str]) -> List[str]:
    """Paths (or names, without a directory) of the missing official files."""
    if not data_dir:
        return list(EVAL_DATA_FILES)
    return [osp.join(data_dir, n) for n in EVAL_DATA_FILES if not osp.isfile(osp.join(data_dir, n))]


def missing_eval_data_message(data_dir: Optional[str], missing: List[str]) -> str:
    """The message users see when geodesic data is unavailable."""
    where = (f'directory {data_dir!r}' if data_dir else
             f'no directory (set eval_data_dir or ${EVAL_DATA_ENV})')
    names = ', '.join(osp.basename(m) for m in missing)
    return (f'DensePose geodesic evaluation data missing in {where}: {names} (missing file '
            f'{missing[0]}). Download {", ".join(EVAL_DATA_FILES)} from {EVAL_DATA_URL} '
            '(tools/misc/download_densepose_eval_data.sh DIR does it) and pass DIR as '
            'eval_data_dir.')


def load_densepose_eval_data(data_dir: Optional[str], logger: str = 'current',
                             cache: bool = True) -> Optional[DensePoseEvalData]:
    """Load (and cache) the geodesic data, or log why it is unavailable.

    Args:
        data_dir (str, optional): directory holding the three official files;
            None falls back to ``$MMDENSEKD_EVAL_DATA``.
        logger (str): mmengine logger name for the message.
        cache (bool): reuse (and keep) the data loaded last from the same
            files; False reads them again (e.g. to time loading).

    Returns:
        DensePoseEvalData | None: None when a file is missing (logged as a
        warning naming the file and :data:`EVAL_DATA_URL`).
    """
    data_dir = resolve_eval_data_dir(data_dir)
    missing = find_missing_eval_data(data_dir)
    if missing:
        print_log(missing_eval_data_message(data_dir, missing) + ' GPS and GPSm are not '
                  'reported; IOU is.', logger=logger, level=30)
        return None
    key = tuple((osp.realpath(osp.join(data_dir, n)), os.stat(osp.join(data_dir, n)).st_mtime)
                for n in EVAL_DATA_FILES)
    if not cache:
        return DensePoseEvalData.from_dir(data_dir)
    if key not in _CACHE:
        _CACHE.clear()  # the real distance matrix is large: keep one
        _CACHE[key] = DensePoseEvalData.from_dir(data_dir)
    return _CACHE[key]
