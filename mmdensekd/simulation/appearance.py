# Copyright (c) mmdensekd contributors. All rights reserved.
"""Colours of a frame: textured room, furniture, clothed shaded bodies.

Appearance never changes labels: :func:`render_frame` ray-casts the static
scene (room box, furniture, seats) for every pixel centre, hands its depth to
:func:`~mmdensekd.simulation.renderer.render_labels` as the occlusion limit,
and colours the body pixels from their part, U, V and normal.

Shape legend: ``H, W`` image size.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np

from .renderer import FAR, Camera, render_labels
from .scene import Box, FrameScene, RoomLayout

#: Coarse parts (1..14) of each garment.
_SHIRT = (1, 10, 11)
_SLEEVE = (12, 13)
_HAND = (2, 3)
_FOOT = (4, 5)
_THIGH = (6, 7)
_SHIN = (8, 9)
_HEAD = 14


def _hash01(x: np.ndarray, seed: float) -> np.ndarray:
    """A deterministic pseudo-random value in [0, 1) per integer cell."""
    return np.mod(np.sin(x * 12.9898 + seed * 0.61803) * 43758.5453, 1.0)


def _pixel_grid(camera: Camera) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    return np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)


def _boxes_hit(origin: np.ndarray, dirs: np.ndarray, boxes: List[Box]):
    """Nearest box hit: (N,) depth, (N,) box index (-1 none), (N,) face axis."""
    n = len(dirs)
    depth, index, axis = np.full(n, FAR), np.full(n, -1, np.int64), np.zeros(n, np.int64)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / dirs
        for b, box in enumerate(boxes):
            t1 = (np.asarray(box.lo) - origin) * inv
            t2 = (np.asarray(box.hi) - origin) * inv
            tmin = np.nan_to_num(np.minimum(t1, t2), nan=-FAR)
            tmax = np.nan_to_num(np.maximum(t1, t2), nan=FAR)
            near = tmin.max(axis=1)
            far = tmax.min(axis=1)
            ok = (near <= far) & (near > 0) & (near < depth)
            depth = np.where(ok, near, depth)
            index = np.where(ok, b, index)
            axis = np.where(ok, tmin.argmax(axis=1), axis)
    return depth, index, axis


#: Unlit colour, normal, depth and ray directions of the static room per
#: (layout, camera, image size), filled on first use in each process.
_STATIC_CACHE: Dict[tuple, Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _room_and_furniture(camera: Camera, layout: RoomLayout):
    """Unlit BGR, normals, depths and ray directions of room + furniture."""
    dirs = camera.ray_dirs(_pixel_grid(camera))
    o, size = camera.position, layout.size
    rows = np.arange(len(dirs))
    with np.errstate(divide='ignore', invalid='ignore'):
        t_ax = np.where(dirs > 0, (size - o) / dirs, np.where(dirs < 0, -o / dirs, FAR))
    ax = t_ax.argmin(axis=1)
    t = t_ax[rows, ax]
    face = 2 * ax + (dirs[rows, ax] > 0)  # 0 x0, 1 x1, 2 y0, 3 y1, 4 floor, 5 ceiling
    p = o + t[:, None] * dirs
    seed = layout.texture_seed % 1000
    col = layout.wall_colors[face].copy()
    # wall texture: soft sinusoidal stains
    tex = 0.92 + 0.05 * np.sin(p[:, 0] * 3.1 + seed) * np.sin(p[:, 2] * 4.3 + p[:, 1] * 2.2)
    # floor: planks or tiles, per-cell brightness
    floor = face == 4
    if seed % 2 == 0:
        cell = np.floor(p[:, 0] / 0.18) * 57 + np.floor((p[:, 1] + 0.7 * np.floor(
            p[:, 0] / 0.18)) / 1.2)
    else:
        cell = np.floor(p[:, 0] / 0.5) * 31 + np.floor(p[:, 1] / 0.5)
    tex = np.where(floor, 0.75 + 0.35 * _hash01(cell, seed), tex)
    tex = np.where((face < 4) & (p[:, 2] < 0.1), 0.45, tex)  # skirting board
    col = col * tex[:, None]
    # posters on the walls
    lx, ly, lz = size
    wall_u = np.where(face < 2, p[:, 1] / ly, p[:, 0] / lx)
    wall_v = p[:, 2] / lz
    for f, u0, u1, v0, v1, bgr in layout.posters:
        on = (face == f) & (wall_u >= u0) & (wall_u <= u1) & (wall_v >= v0) & (wall_v <= v1)
        stripes = 0.8 + 0.2 * np.sign(np.sin((wall_u - u0) * 80.0 + f))
        col = np.where(on[:, None], np.asarray(bgr) * stripes[:, None], col)
    normal = np.zeros_like(dirs)
    normal[rows, ax] = np.where(dirs[rows, ax] > 0, -1.0, 1.0)
    return _add_boxes(o, dirs, layout.furniture, col, normal, t) + (dirs, )


def _add_boxes(origin: np.ndarray, dirs: np.ndarray, boxes: List[Box], col: np.ndarray,
               normal: np.ndarray, depth: np.ndarray):
    """Paint the boxes nearer than ``depth`` over ``col`` / ``normal``."""
    if not boxes:
        return col, normal, depth
    rows = np.arange(len(dirs))
    bt, bi, bax = _boxes_hit(origin, dirs, boxes)
    hit = (bi >= 0) & (bt < depth)
    depth = np.where(hit, bt, depth)
    bcol = np.array([boxes[i].color for i in range(len(boxes))])[np.maximum(bi, 0)]
    bp = origin + np.where(hit, bt, 0.0)[:, None] * dirs
    grain = 0.9 + 0.1 * np.sin(bp[:, 0] * 23 + bp[:, 1] * 17 + bp[:, 2] * 29)
    col = np.where(hit[:, None], bcol * grain[:, None], col)
    bn = np.zeros_like(dirs)
    bn[rows, bax] = -np.sign(dirs[rows, bax])
    normal = np.where(hit[:, None], bn, normal)
    return col, normal, depth


def render_static(camera: Camera, layout: RoomLayout, props: List[Box],
                  light: dict) -> Tuple[np.ndarray, np.ndarray]:
    """Colour and depth of the room, furniture and seats.

    The room and furniture are computed once per layout and image size (per
    process) and cached; seats and lighting are per frame.

    Args:
        camera (Camera): The camera.
        layout (RoomLayout): The room.
        props (list[Box]): Extra per-frame boxes.
        light (dict): ``gain`` and ``dir`` (3,) of :func:`sample_light`.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W, 3) float BGR and (H, W) depth.
    """
    key = (layout.layout_id, layout.texture_seed, camera.width, camera.height,
           tuple(camera.position.tolist()), tuple(camera.target.tolist()))
    if key not in _STATIC_CACHE:
        if len(_STATIC_CACHE) > 16:
            _STATIC_CACHE.clear()
        _STATIC_CACHE[key] = _room_and_furniture(camera, layout)
    col, normal, depth, dirs = _STATIC_CACHE[key]
    col, normal, depth = _add_boxes(camera.position, dirs, list(props), col, normal, depth)
    shade = 0.6 + 0.4 * np.abs(normal @ light['dir'])
    col = col * shade[:, None]
    h, w = camera.height, camera.width
    return col.reshape(h, w, 3), depth.reshape(h, w)


def sample_light(rng: np.random.Generator) -> dict:
    """Per-frame lighting: global gain, colour cast and a light direction."""
    d = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.9, -0.2), rng.uniform(0.5, 1.0)])
    return dict(gain=float(rng.uniform(0.6, 1.25)), cast=rng.uniform(0.88, 1.12, 3),
                dir=d / np.linalg.norm(d), noise=float(rng.uniform(1.0, 5.0)))


def shade_people(labels: Dict[str, np.ndarray], scene: FrameScene, light: dict) -> np.ndarray:
    """BGR colour of every body pixel (zeros elsewhere).

    Args:
        labels (dict): Label images of :func:`render_labels`.
        scene (FrameScene): The frame (appearance of each person).
        light (dict): Lighting of :func:`sample_light`.

    Returns:
        np.ndarray: (H, W, 3) float BGR.
    """
    person, part = labels['person'], labels['part']
    u, v = labels['u'], labels['v']
    out = np.zeros(person.shape + (3, ))
    for i, st in enumerate(scene.people):
        app = st.appearance
        m = person == i
        if not m.any():
            continue
        pp, uu, vv = part[m], u[m], v[m]
        col = np.tile(np.asarray(app['skin'], float), (len(pp), 1))
        shirt = np.isin(pp, _SHIRT) | (np.isin(pp, _SLEEVE) & app['long_sleeves'])
        col[shirt] = app['shirt']
        if app['stripes'] > 0:
            stripe = shirt & (np.sin(uu * app['stripes'] * 2 * np.pi) > 0.4)
            col[stripe] = app['stripe_color']
        legs = np.isin(pp, _THIGH) | (np.isin(pp, _SHIN) & (not app['shorts']))
        col[legs] = app['pants']
        col[np.isin(pp, _FOOT)] = app['shoes']
        hair = (pp == _HEAD) & ((uu > 0.72) | (vv < 0.3))
        col[hair] = app['hair']
        out[m] = col
    n = labels['normal']
    lam = np.clip(n @ light['dir'], 0.0, 1.0)
    return out * (0.45 + 0.55 * lam)[..., None]


def render_frame(scene: FrameScene, width: int, height: int, light: dict,
                 rng: Optional[np.random.Generator] = None):
    """Render the image and the exact labels of a frame.

    Args:
        scene (FrameScene): The frame.
        width (int): Image width.
        height (int): Image height.
        light (dict): Lighting of :func:`sample_light`.
        rng (np.random.Generator, optional): Source of sensor noise; None
            renders without noise.

    Returns:
        tuple[np.ndarray, dict, np.ndarray]: (H, W, 3) uint8 BGR image, the
        label images (see :func:`render_labels`) and the (H, W) static depth.
    """
    camera = scene.layout.camera(width, height)
    bg, static_depth = render_static(camera, scene.layout, scene.props, light)
    labels = render_labels(camera, scene.prims, max_depth=static_depth)
    img = np.where((labels['person'] >= 0)[..., None], shade_people(labels, scene, light), bg)
    img = img * light['gain'] * light['cast']
    if rng is not None:
        img = img + rng.normal(0.0, light['noise'], img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), labels, static_depth


def part_color_image(labels: Dict[str, np.ndarray], seed: int = 3) -> np.ndarray:
    """A visual check image: hue by fine part, brightness by U / V stripes.

    Args:
        labels (dict): Label images of :func:`render_labels`.
        seed (int): Seed of the random colour of each fine part.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.
    """
    fine = labels['fine']
    rng = np.random.default_rng(seed)
    lut = rng.uniform(40, 255, (25, 3))
    lut[0] = 0
    img = lut[fine] * (0.6 + 0.4 * ((np.floor(labels['u'] * 8) + np.floor(labels['v'] * 8))
                                    % 2))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)
