# Copyright (c) mmdensekd contributors. All rights reserved.
"""Pinhole camera and an exact z-buffer ray caster for capsule bodies.

Every pixel (or any sub-pixel point) casts the ray
``o + t * d`` with ``d = fwd + (x - cx) / fx * right + (y - cy) / fy * down``,
so ``t`` is the z-depth. Rays are intersected in closed form with every
scaled capsule (:class:`~mmdensekd.simulation.body.Primitives`), restricted
to the pixels of the capsule's projected bounding sphere; the nearest hit
gives the person, part I, U, V (:func:`surface_iuv`) and normal. Only
element-wise numpy arithmetic is used, so casting one point and rendering
the whole image give the same numbers at the same pixel centre.

Shape legend: ``H, W`` image size, ``N`` rays, ``P`` capsules.
"""
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from .body import Primitives, surface_iuv

#: Depth of "no hit".
FAR = np.inf


@dataclass
class Camera:
    """Pinhole camera looking from ``position`` at ``target`` (z up).

    Args:
        position (np.ndarray): (3,) centre of projection (metres).
        target (np.ndarray): (3,) a point on the optical axis.
        width (int): Image width in pixels.
        height (int): Image height in pixels.
        hfov_deg (float): Horizontal field of view in degrees.
    """

    position: np.ndarray
    target: np.ndarray
    width: int = 320
    height: int = 240
    hfov_deg: float = 70.0

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, dtype=np.float64)
        self.target = np.asarray(self.target, dtype=np.float64)
        fwd = self.target - self.position
        fwd = fwd / np.linalg.norm(fwd)
        right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
        right = right / np.linalg.norm(right)
        self.fwd, self.right, self.down = fwd, right, np.cross(fwd, right)
        self.fx = self.fy = 0.5 * self.width / np.tan(np.deg2rad(self.hfov_deg) / 2)
        self.cx, self.cy = 0.5 * self.width, 0.5 * self.height

    def ray_dirs(self, xy: np.ndarray) -> np.ndarray:
        """Ray directions (z-depth parameterised) through image points.

        Args:
            xy (np.ndarray): (N, 2) image coordinates (pixel centre of
                pixel ``(i, j)`` is ``(i + 0.5, j + 0.5)``).

        Returns:
            np.ndarray: (N, 3) directions.
        """
        a = (xy[:, 0] - self.cx) / self.fx
        b = (xy[:, 1] - self.cy) / self.fy
        return np.stack([self.fwd[k] + a * self.right[k] + b * self.down[k] for k in range(3)],
                        axis=1)

    def project(self, points: np.ndarray):
        """Project world points.

        Args:
            points (np.ndarray): (N, 3) world points.

        Returns:
            tuple[np.ndarray, np.ndarray]: (N, 2) image coordinates and (N,)
            depths.
        """
        rel = np.asarray(points, dtype=np.float64) - self.position
        z = rel @ self.fwd
        x = rel @ self.right
        y = rel @ self.down
        safe = np.where(z > 1e-9, z, 1e-9)
        return np.stack([self.fx * x / safe + self.cx, self.fy * y / safe + self.cy], 1), z


def intersect_capsule(origin: np.ndarray, dirs: np.ndarray, a: np.ndarray, rot: np.ndarray,
                      radii: np.ndarray, h: float):
    """Entry points of rays into one scaled capsule.

    Args:
        origin (np.ndarray): (3,) common ray origin (outside the capsule).
        dirs (np.ndarray): (N, 3) ray directions.
        a (np.ndarray): (3,) capsule start; ``rot`` (3, 3) its frame;
            ``radii`` (3,) its scales; ``h`` its local length.

    Returns:
        tuple[np.ndarray, np.ndarray]: (N,) ray parameter (``inf`` = miss)
        and (N, 3) hit points in the scaled local frame.
    """
    rel = [origin[k] - a[k] for k in range(3)]
    ol = [(rel[0] * rot[0, k] + rel[1] * rot[1, k] + rel[2] * rot[2, k]) / radii[k]
          for k in range(3)]
    dl = [(dirs[:, 0] * rot[0, k] + dirs[:, 1] * rot[1, k] + dirs[:, 2] * rot[2, k]) / radii[k]
          for k in range(3)]
    best = np.full(len(dirs), FAR)
    with np.errstate(invalid='ignore', divide='ignore'):
        qa = dl[0] * dl[0] + dl[1] * dl[1]
        qb = ol[0] * dl[0] + ol[1] * dl[1]
        qc = ol[0] * ol[0] + ol[1] * ol[1] - 1.0
        disc = qb * qb - qa * qc
        t = (-qb - np.sqrt(np.maximum(disc, 0.0))) / qa
        z = ol[2] + t * dl[2]
        ok = (disc >= 0) & (qa > 0) & (t > 0) & (z >= 0) & (z <= h)
        best = np.where(ok, t, best)
        sa = qa + dl[2] * dl[2]
        for cz, below in ((0.0, True), (h, False)):
            oz = ol[2] - cz
            sb = ol[0] * dl[0] + ol[1] * dl[1] + oz * dl[2]
            sc = ol[0] * ol[0] + ol[1] * ol[1] + oz * oz - 1.0
            disc = sb * sb - sa * sc
            t = (-sb - np.sqrt(np.maximum(disc, 0.0))) / sa
            z = ol[2] + t * dl[2]
            cap = (z <= cz) if below else (z >= cz)
            ok = (disc >= 0) & (t > 0) & cap & (t < best)
            best = np.where(ok, t, best)
    hit = np.isfinite(best)
    tb = np.where(hit, best, 0.0)
    q = np.stack([ol[k] + tb * dl[k] for k in range(3)], axis=1)
    return best, q


def _empty_labels(n: int) -> Dict[str, np.ndarray]:
    return dict(depth=np.full(n, FAR), prim=np.full(n, -1, np.int64),
                q=np.zeros((n, 3)))


def _keep_nearer(labels: Dict[str, np.ndarray], rays: np.ndarray, p: int, t: np.ndarray,
                 q: np.ndarray) -> None:
    """Record the hits (depth ``t``, capsule point ``q``) of capsule ``p`` on
    the rays at indices ``rays`` where they are nearer than the current ones."""
    closer = t < labels['depth'][rays]
    sel = rays[closer]
    labels['depth'][sel] = t[closer]
    labels['prim'][sel] = p
    labels['q'][sel] = q[closer]


def _finish(labels: Dict[str, np.ndarray], prims: Primitives,
            max_depth: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Person, part, I, U, V and world normal from the nearest hits; hits at
    or behind ``max_depth`` (the static scene, flat) are dropped first."""
    if max_depth is not None:
        hidden = labels['depth'] >= np.asarray(max_depth, dtype=np.float64).reshape(-1)
        labels['depth'][hidden] = FAR
        labels['prim'][hidden] = -1
    n = len(labels['prim'])
    hit = labels['prim'] >= 0
    idx = labels['prim'][hit]
    out = dict(depth=labels['depth'], prim=labels['prim'],
               person=np.full(n, -1, np.int64), part=np.zeros(n, np.int64),
               fine=np.zeros(n, np.int64), u=np.zeros(n), v=np.zeros(n),
               normal=np.zeros((n, 3)))
    if len(idx):
        q = labels['q'][hit]
        fine, u, v = surface_iuv(q, prims.part[idx], prims.h[idx])
        out['person'][hit] = prims.person[idx]
        out['part'][hit] = prims.part[idx]
        out['fine'][hit], out['u'][hit], out['v'][hit] = fine, u, v
        nl = q.copy()
        nl[:, 2] = q[:, 2] - np.clip(q[:, 2], 0.0, prims.h[idx])
        nl = nl / prims.radii[idx]
        nw = np.einsum('nij,nj->ni', prims.rot[idx], nl)
        out['normal'][hit] = nw / np.maximum(np.linalg.norm(nw, axis=1, keepdims=True), 1e-12)
    return out


def cast_points(camera: Camera, prims: Primitives, xy: np.ndarray,
                max_depth: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Cast rays through arbitrary image points.

    Args:
        camera (Camera): The camera.
        prims (Primitives): All capsules of the frame.
        xy (np.ndarray): (N, 2) image points.
        max_depth (np.ndarray, optional): (N,) depth of the scene behind the
            people (walls, furniture); farther hits are occluded.

    Returns:
        dict: (N,) ``depth``, ``prim``, ``person`` (-1 = none), ``part``
        (coarse 1..14, 0 = none), ``fine`` (I), ``u``, ``v`` and (N, 3)
        ``normal``.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    dirs = camera.ray_dirs(xy)
    labels = _empty_labels(len(xy))
    for p in range(len(prims)):
        t, q = intersect_capsule(camera.position, dirs, prims.a[p], prims.rot[p],
                                 prims.radii[p], float(prims.h[p]))
        _keep_nearer(labels, np.arange(len(xy)), p, t, q)
    return _finish(labels, prims, max_depth)


def _pixel_box(camera: Camera, centre: np.ndarray, radius: float):
    """Pixel ranges (x0, x1, y0, y1) that may see a sphere, or None."""
    rel = centre - camera.position
    z = float(rel @ camera.fwd)
    if z - radius <= 1e-3:
        return 0, camera.width, 0, camera.height
    x, y = float(rel @ camera.right), float(rel @ camera.down)
    us = [camera.fx * (x + sx * radius) / (z + sz * radius) + camera.cx
          for sx in (-1, 1) for sz in (-1, 1)]
    vs = [camera.fy * (y + sy * radius) / (z + sz * radius) + camera.cy
          for sy in (-1, 1) for sz in (-1, 1)]
    x0, x1 = max(int(np.floor(min(us))) - 1, 0), min(int(np.ceil(max(us))) + 1, camera.width)
    y0, y1 = max(int(np.floor(min(vs))) - 1, 0), min(int(np.ceil(max(vs))) + 1, camera.height)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, x1, y0, y1


def render_labels(camera: Camera, prims: Primitives,
                  max_depth: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Render the label images of all bodies (pixel centres).

    Args:
        camera (Camera): The camera.
        prims (Primitives): All capsules of the frame.
        max_depth (np.ndarray, optional): (H, W) depth of the static scene;
            body hits behind it are hidden.

    Returns:
        dict: (H, W) ``depth``, ``prim``, ``person`` (-1 = background),
        ``part``, ``fine`` (I), ``u``, ``v`` and (H, W, 3) ``normal`` (see
        :func:`cast_points`).
    """
    w, h = camera.width, camera.height
    labels = _empty_labels(w * h)
    centres, radii = prims.bounding_spheres()
    for p in range(len(prims)):
        box = _pixel_box(camera, centres[p], float(radii[p]))
        if box is None:
            continue
        x0, x1, y0, y1 = box
        gx, gy = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
        flat = (gy * w + gx).reshape(-1)
        xy = np.stack([gx.reshape(-1) + 0.5, gy.reshape(-1) + 0.5], axis=1)
        t, q = intersect_capsule(camera.position, camera.ray_dirs(xy), prims.a[p],
                                 prims.rot[p], prims.radii[p], float(prims.h[p]))
        _keep_nearer(labels, flat, p, t, q)
    out = _finish(labels, prims, max_depth)
    return {k: v.reshape((h, w) + v.shape[1:]) for k, v in out.items()}
