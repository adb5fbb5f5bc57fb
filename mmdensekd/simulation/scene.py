# Copyright (c) mmdensekd contributors. All rights reserved.
"""Room layouts (camera, WiFi link, furniture) and per-frame people.

A room is the box ``[0, Lx] x [0, Ly] x [0, Lz]`` (metres, z up). The
camera stands near the wall ``y = 0`` and looks into the room; the WiFi
transmitter and receiver stand at either side wall, facing each other across
the activity area (as in Person-in-WiFi); furniture is a few boxes along the
walls, out of the activity area. Everything of a layout is a function of
``(seed, layout_id)`` only.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .body import BodyShape, Primitives, build_body
from .poses import sample_pose
from .renderer import Camera


@dataclass
class Box:
    """An axis-aligned box (furniture or a seat).

    Args:
        lo (np.ndarray): (3,) minimum corner.
        hi (np.ndarray): (3,) maximum corner.
        color (tuple): BGR colour 0..255.
    """

    lo: np.ndarray
    hi: np.ndarray
    color: Tuple[float, float, float] = (128.0, 128.0, 128.0)

    @property
    def centre(self) -> np.ndarray:
        """(3,) box centre."""
        return 0.5 * (np.asarray(self.lo) + np.asarray(self.hi))

    @property
    def face_area(self) -> float:
        """Mean face area (m^2), a size for scattering."""
        s = np.asarray(self.hi) - np.asarray(self.lo)
        return float((s[0] * s[1] + s[1] * s[2] + s[0] * s[2]) / 3)


@dataclass
class RoomLayout:
    """One room: geometry, camera, WiFi link and decoration.

    Args:
        layout_id (int): Index of the layout.
        size (np.ndarray): (3,) room size ``Lx, Ly, Lz``.
        camera_position (np.ndarray): (3,) camera centre.
        camera_target (np.ndarray): (3,) camera look-at point.
        tx (np.ndarray): (3,) transmitter array centre.
        rx (np.ndarray): (3,) receiver array centre.
        array_axis (np.ndarray): (3,) unit axis of both antenna arrays.
        area (tuple): ``(x0, x1, y0, y1)`` floor area where people stand.
        furniture (list[Box]): Static boxes.
        wall_colors (np.ndarray): (6, 3) BGR of faces x0, x1, y0, y1, floor,
            ceiling.
        posters (list): ``(face, u0, u1, v0, v1, bgr)`` rectangles on walls.
        texture_seed (int): Seed of the procedural wall / floor textures.
    """

    layout_id: int
    size: np.ndarray
    camera_position: np.ndarray
    camera_target: np.ndarray
    tx: np.ndarray
    rx: np.ndarray
    array_axis: np.ndarray
    area: Tuple[float, float, float, float]
    furniture: List[Box] = field(default_factory=list)
    wall_colors: Optional[np.ndarray] = None
    posters: list = field(default_factory=list)
    texture_seed: int = 0

    def camera(self, width: int, height: int) -> Camera:
        """The layout's camera at the given image size."""
        return Camera(self.camera_position, self.camera_target, width, height)


def make_layout(seed: int, layout_id: int) -> RoomLayout:
    """Build room layout ``layout_id`` of the dataset seeded by ``seed``.

    Args:
        seed (int): Dataset seed.
        layout_id (int): Layout index (0, 1, ...).

    Returns:
        RoomLayout: The layout.
    """
    rng = np.random.default_rng([int(seed), 7919, int(layout_id)])
    lx, ly, lz = rng.uniform(5.5, 7.5), rng.uniform(6.0, 8.0), rng.uniform(2.6, 3.1)
    size = np.array([lx, ly, lz])
    cam = np.array([lx / 2 + rng.uniform(-0.6, 0.6), 0.25, rng.uniform(1.7, 2.2)])
    target = np.array([lx / 2 + rng.uniform(-0.3, 0.3), 3.6, rng.uniform(0.6, 0.9)])
    # the link crosses the activity area diagonally, TX low and RX high, so
    # no mirror symmetry of the room makes two positions look alike
    y_link = rng.uniform(3.3, 3.9)
    skew = rng.uniform(0.5, 1.0)
    tx = np.array([0.35, y_link - skew, rng.uniform(0.8, 1.0)])
    rx = np.array([lx - 0.35, y_link + skew, rng.uniform(1.25, 1.5)])
    area = (lx / 2 - 1.7, lx / 2 + 1.7, 2.3, 5.0)
    palette = rng.uniform(60, 230, size=(6, 3))
    palette[4] = rng.uniform(40, 160, size=3)  # floor darker
    furniture = []
    kinds = [(0.5, 0.45, 1.9), (1.4, 0.7, 0.75), (1.9, 0.85, 0.8), (0.9, 0.4, 1.2),
             (0.6, 0.6, 0.5)]
    for k in rng.permutation(len(kinds))[:int(rng.integers(3, 6))]:
        w, d, h = kinds[int(k)]
        side = int(rng.integers(0, 3))  # 0 left wall, 1 right wall, 2 back wall
        # side-wall slots behind or in front of the activity area (not beside it)
        slots = [(lo_, hi_) for lo_, hi_ in ((area[3] + 0.2, ly - w - 0.1),
                                            (0.6, area[2] - 0.1 - w)) if hi_ > lo_]
        if not slots:
            side = 2
        if side == 2:
            x0 = rng.uniform(0.1, lx - w - 0.1)
            lo = np.array([x0, ly - d - 0.05, 0.0])
            hi = np.array([x0 + w, ly - 0.05, h])
        else:
            slot = slots[int(rng.integers(0, len(slots)))]
            y0 = rng.uniform(*slot)
            x0 = 0.05 if side == 0 else lx - d - 0.05
            lo = np.array([x0, y0, 0.0])
            hi = np.array([x0 + d, y0 + w, h])
        furniture.append(Box(lo, hi, tuple(float(c) for c in rng.uniform(30, 220, 3))))
    posters = []
    for _ in range(int(rng.integers(2, 6))):
        face = int(rng.choice([0, 1, 3, 3]))
        u0, v0 = rng.uniform(0.05, 0.8), rng.uniform(0.3, 0.7)
        posters.append((face, u0, u0 + rng.uniform(0.05, 0.18), v0, v0 + rng.uniform(0.1, 0.25),
                        tuple(float(c) for c in rng.uniform(0, 255, 3))))
    return RoomLayout(layout_id=int(layout_id), size=size, camera_position=cam,
                      camera_target=target, tx=tx, rx=rx, array_axis=np.array([0.0, 1.0, 0.0]),
                      area=area, furniture=furniture, wall_colors=palette, posters=posters,
                      texture_seed=int(rng.integers(0, 2**31 - 1)))


@dataclass
class PersonState:
    """One person of a frame.

    Args:
        shape (BodyShape): Proportions.
        pose (dict): Joint angles.
        yaw (float): Heading (radians).
        position (tuple[float, float]): Floor position.
        appearance (dict): Clothing / skin colours and texture parameters.
    """

    shape: BodyShape
    pose: dict
    yaw: float
    position: Tuple[float, float]
    appearance: dict


@dataclass
class FrameScene:
    """People and props of one frame in a layout.

    Args:
        layout (RoomLayout): The room.
        people (list[PersonState]): The people.
        joints (np.ndarray): (N, 17, 3) COCO joints.
        prims (Primitives): All capsules (person index = list index).
        props (list[Box]): Per-frame boxes (seats).
    """

    layout: RoomLayout
    people: List[PersonState]
    joints: np.ndarray
    prims: Primitives
    props: List[Box]


def sample_appearance(rng: np.random.Generator) -> dict:
    """Random clothing and skin colours (BGR) and texture parameters."""
    skin = np.array([rng.uniform(60, 150), rng.uniform(90, 180), rng.uniform(140, 235)])
    return dict(skin=skin, shirt=rng.uniform(20, 240, 3), pants=rng.uniform(20, 200, 3),
                shoes=rng.uniform(10, 90, 3), hair=rng.uniform(10, 90, 3),
                long_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.2),
                stripes=float(rng.choice([0.0, rng.uniform(4, 12)])),
                stripe_color=rng.uniform(20, 240, 3))


def build_people(people: List[PersonState]):
    """Joints, capsules and seats of a list of people.

    Args:
        people (list[PersonState]): The people.

    Returns:
        tuple[np.ndarray, Primitives, list[Box]]: (N, 17, 3) joints, capsules
        and seat boxes (one per sitting person).
    """
    joints, prims, props = [], [], []
    for i, p in enumerate(people):
        j, b, lift = build_body(p.shape, p.pose, p.yaw, p.position, person=i)
        joints.append(j)
        prims.append(b)
        if p.pose.get('kind') == 'sitting':
            seat_top = lift - 0.8 * p.shape.lengths()['r_thigh']
            c = np.array([p.position[0], p.position[1]])
            back = -np.array([-np.sin(p.yaw), np.cos(p.yaw)]) * 0.05
            lo = np.array([c[0] + back[0] - 0.2, c[1] + back[1] - 0.2, 0.0])
            hi = np.array([c[0] + back[0] + 0.2, c[1] + back[1] + 0.2, max(seat_top, 0.1)])
            props.append(Box(lo, hi, (60.0, 70.0, 90.0)))
    joints = np.stack(joints) if joints else np.zeros((0, 17, 3))
    return joints, Primitives.concat(prims), props


def layout_stations(layout: RoomLayout, num: int, min_dist: float = 0.9) -> np.ndarray:
    """``num`` fixed standing spots ("stations") in the layout's activity area.

    Recorded activity datasets (MM-Fi, Person-in-WiFi) have their subjects
    act at a few marked spots of each room; with stations, people stand at
    one of these (plus a small jitter) instead of anywhere. The spots are a
    function of the layout alone.

    Args:
        layout (RoomLayout): The room.
        num (int): Number of stations.
        min_dist (float): Smallest distance between two stations (m).

    Returns:
        np.ndarray: (num, 2) floor positions.
    """
    rng = np.random.default_rng([int(layout.texture_seed), 104729, int(num)])
    x0, x1, y0, y1 = layout.area
    spots: List[np.ndarray] = []
    for _ in range(1000 * max(num, 1)):
        if len(spots) == num:
            break
        p = np.array([rng.uniform(x0 + 0.3, x1 - 0.3), rng.uniform(y0 + 0.2, y1 - 0.2)])
        if all(np.hypot(*(p - q)) >= min_dist for q in spots):
            spots.append(p)
    if len(spots) < num:
        raise ValueError(f'cannot place {num} stations {min_dist} m apart in the activity '
                         f'area {layout.area} of layout {layout.layout_id}')
    return np.stack(spots)


def facing_yaw(position: Sequence[float], target: Sequence[float]) -> float:
    """The heading (see :func:`build_body`: 0 faces +y) of a person at floor
    ``position`` who faces the floor point under ``target``."""
    dx, dy = target[0] - position[0], target[1] - position[1]
    return float(np.arctan2(-dx, dy))


def sample_frame(layout: RoomLayout, rng: np.random.Generator, num_people: int,
                 width: int, height: int, max_tries: int = 60,
                 stations: Optional[np.ndarray] = None,
                 station_jitter: float = 0.05,
                 heading_jitter: Optional[float] = None) -> FrameScene:
    """Place ``num_people`` random people in the layout's activity area.

    People stand at least 0.75 m apart, fully inside the image (all joints
    at least 4 px inside) and at least 1.5 m from the camera; a person that
    cannot be placed in ``max_tries`` draws is left out (a frame always has at
    least one person).

    Args:
        layout (RoomLayout): The room.
        rng (np.random.Generator): Random source.
        num_people (int): Wanted number of people.
        width (int): Image width.
        height (int): Image height.
        max_tries (int): Placement attempts per person.
        stations (np.ndarray, optional): (S, 2) standing spots (see
            :func:`layout_stations`); each person takes a free one, moved by
            ``station_jitter``. None = anywhere in the activity area.
        station_jitter (float): Std (m) of a person's offset from its station.
        heading_jitter (float, optional): People face the camera, turned by
            a normal angle of this std (radians), as subjects of recorded
            activity data face the sensors. None = any heading.

    Returns:
        FrameScene: The frame.
    """
    camera = layout.camera(width, height)
    x0, x1, y0, y1 = layout.area
    people: List[PersonState] = []
    for _ in range(num_people):
        for _ in range(max_tries):
            shape = BodyShape.sample(rng)
            pose = sample_pose(rng)
            turn = (rng.uniform(-np.pi, np.pi) if heading_jitter is None
                    else rng.normal(0.0, heading_jitter))
            if stations is None:
                pos = (float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1)))
            else:
                c = stations[int(rng.integers(len(stations)))] + rng.normal(0, station_jitter, 2)
                pos = (float(c[0]), float(c[1]))
            # with heading_jitter the draw is a turn away from facing the camera
            yaw = float(turn if heading_jitter is None else turn + facing_yaw(
                pos, layout.camera_position))
            if any(np.hypot(pos[0] - q.position[0], pos[1] - q.position[1]) < 0.75
                   for q in people):
                continue
            joints, body, _ = build_body(shape, pose, yaw, pos)
            uv, depth = camera.project(np.concatenate([joints, body.a, body.b]))
            margin = 4
            if depth.min() < 1.5 or uv[:, 0].min() < margin or uv[:, 1].min() < margin or \
                    uv[:, 0].max() > width - margin or uv[:, 1].max() > height - margin:
                continue
            people.append(PersonState(shape, pose, yaw, pos, sample_appearance(rng)))
            break
    if not people:  # always one person: a standing one in the middle of the area
        people.append(PersonState(BodyShape(), sample_pose(rng, 'standing'), 0.0,
                                  (0.5 * (x0 + x1), 0.5 * (y0 + y1)), sample_appearance(rng)))
    joints, prims, props = build_people(people)
    return FrameScene(layout, people, joints, prims, props)
