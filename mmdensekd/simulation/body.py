# Copyright (c) mmdensekd contributors. All rights reserved.
"""Articulated primitive bodies: 17 COCO joints and 14 scaled capsules.

A body is built from a :class:`BodyShape` (proportions, metres) and a pose
(joint angles, see :mod:`mmdensekd.simulation.poses`). Each of the 14 coarse
DensePose parts (``COARSE_PART_NAMES`` order) is one *scaled capsule*: in its
local frame ``q = S^-1 R^T (p - A)`` (``R`` columns = local x, y, z axes,
``S = diag(rx, ry, rz)``) the surface is the set of points at distance 1
from the segment ``z in [0, h]`` (``h = |B - A| / rz``); a head is a scaled
sphere (``h = 0``), i.e. an ellipsoid.

Surface charts (continuous on each fine part, :func:`surface_iuv`):

* ``s = (q_z + 1) / (h + 2)`` runs along the part including its caps;
* ``'frontback'`` parts (torso, legs, arms) split at the local x-z plane:
  local +y is the part's front; ``U = s`` and ``V`` the angle across the
  half, 0..1;
* ``'leftright'`` parts (head) split at the local y-z plane: local +x is the
  person's right (fine 23), ``U = s`` (bottom to top), ``V`` the angle from
  the back to the front of that half;
* ``'single'`` parts (hands, feet): ``U = s``, ``V`` the full turn, seam at
  the back (local -y).

Shape legend: ``P`` primitives, ``N`` points.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from mmdensekd.datasets.coco_keypoints import COCO_KEYPOINT_NAMES

#: COCO keypoint order (index = keypoint id), as every COCO tool of the package.
COCO_JOINTS = COCO_KEYPOINT_NAMES
NUM_JOINTS = len(COCO_JOINTS)

#: Chart of every coarse part (1..14): (name, mode, fine ids).
#: ``'frontback'``: (front fine id, back fine id); ``'leftright'``: (right,
#: left); ``'single'``: (fine id,). Fine ids follow DensePose-COCO
#: (``structures/densepose_constants.py``).
PART_CHARTS = (
    ('Torso', 'frontback', (2, 1)),
    ('RHand', 'single', (3, )),
    ('LHand', 'single', (4, )),
    ('LFoot', 'single', (5, )),
    ('RFoot', 'single', (6, )),
    ('UpLegR', 'frontback', (9, 7)),
    ('UpLegL', 'frontback', (10, 8)),
    ('LowLegR', 'frontback', (13, 11)),
    ('LowLegL', 'frontback', (14, 12)),
    ('UpArmL', 'frontback', (15, 17)),
    ('UpArmR', 'frontback', (16, 18)),
    ('LowArmL', 'frontback', (19, 21)),
    ('LowArmR', 'frontback', (20, 22)),
    ('Head', 'leftright', (23, 24)),
)
NUM_PRIMS = len(PART_CHARTS)
_MODE_ID = {'frontback': 0, 'leftright': 1, 'single': 2}
#: (14,) int: chart mode id per coarse part; (14, 2) int: fine ids.
PART_MODE = np.array([_MODE_ID[m] for _, m, _ in PART_CHARTS], dtype=np.int64)
PART_FINE = np.array([(f[0], f[-1]) for _, _, f in PART_CHARTS], dtype=np.int64)


@dataclass
class BodyShape:
    """Body proportions in metres.

    Args:
        height (float): Standing height.
        girth (float): Multiplier of all limb / torso radii.
        shoulder (float): Multiplier of the shoulder width.
        leg (float): Multiplier of the leg length (relative to height).
    """

    height: float = 1.72
    girth: float = 1.0
    shoulder: float = 1.0
    leg: float = 1.0

    @classmethod
    def sample(cls, rng: np.random.Generator) -> 'BodyShape':
        """Random plausible adult proportions.

        Args:
            rng (np.random.Generator): Random source.

        Returns:
            BodyShape: The sampled shape.
        """
        return cls(height=float(rng.uniform(1.5, 1.92)), girth=float(rng.uniform(0.85, 1.25)),
                   shoulder=float(rng.uniform(0.9, 1.12)), leg=float(rng.uniform(0.94, 1.06)))

    def lengths(self) -> Dict[str, float]:
        """Segment lengths and radii (metres) derived from the proportions."""
        h, g = self.height, self.girth
        k = h / 1.72
        thigh = 0.245 * h * self.leg
        shin = 0.24 * h * self.leg
        return dict(
            thigh=thigh, shin=shin, ankle=0.045 * h, spine=0.31 * h + (1 - self.leg) * 0.49 * h,
            neck=0.045 * h, hip_hw=0.055 * h * g, shoulder_hw=0.11 * h * self.shoulder,
            upper_arm=0.175 * h, forearm=0.15 * h, hand=0.085 * h, foot=0.135 * h,
            r_thigh=0.075 * k * g, r_shin=0.05 * k * g, r_upper_arm=0.045 * k * g,
            r_forearm=0.036 * k * g, torso_rx=0.155 * k * g * self.shoulder,
            torso_ry=0.1 * k * g, head_rx=0.075 * k, head_ry=0.09 * k, head_rz=0.11 * k,
            hand_rx=0.042 * k, hand_ry=0.018 * k * g, foot_rx=0.042 * k, foot_ry=0.035 * k)


@dataclass
class Primitives:
    """Scaled capsules of one or more bodies.

    Args:
        a (np.ndarray): (P, 3) segment start (world, metres).
        rot (np.ndarray): (P, 3, 3) local frames, columns = local x, y, z.
        radii (np.ndarray): (P, 3) ``rx, ry, rz``.
        h (np.ndarray): (P,) segment length in local units ``|B - A| / rz``.
        part (np.ndarray): (P,) coarse part 1..14.
        person (np.ndarray): (P,) person index 0.. (per frame).
    """

    a: np.ndarray
    rot: np.ndarray
    radii: np.ndarray
    h: np.ndarray
    part: np.ndarray
    person: np.ndarray

    def __len__(self) -> int:
        return len(self.h)

    @property
    def b(self) -> np.ndarray:
        """(P, 3) segment ends."""
        return self.a + self.rot[:, :, 2] * (self.h * self.radii[:, 2])[:, None]

    def bounding_spheres(self) -> Tuple[np.ndarray, np.ndarray]:
        """(P, 3) centres and (P,) radii of spheres enclosing each capsule."""
        centre = 0.5 * (self.a + self.b)
        radius = 0.5 * self.h * self.radii[:, 2] + self.radii.max(axis=1)
        return centre, radius

    def surface_area(self) -> np.ndarray:
        """(P,) approximate surface areas (m^2) of the capsules."""
        length = self.h * self.radii[:, 2]
        r_mean = self.radii[:, :2].mean(axis=1)
        perim = np.pi * (3 * (self.radii[:, 0] + self.radii[:, 1]) - np.sqrt(
            (3 * self.radii[:, 0] + self.radii[:, 1]) * (self.radii[:, 0] + 3 * self.radii[:, 1])))
        return perim * length + 4 * np.pi * r_mean * self.radii[:, 2]

    def lowest_z(self) -> np.ndarray:
        """(P,) lowest world z of each capsule (exact ellipsoid support)."""
        support = np.linalg.norm(self.rot[:, 2, :] * self.radii, axis=1)
        return np.minimum(self.a[:, 2], self.b[:, 2]) - support

    @staticmethod
    def concat(items) -> 'Primitives':
        """Concatenate several :class:`Primitives`."""
        items = list(items)
        if not items:
            return Primitives(np.zeros((0, 3)), np.zeros((0, 3, 3)), np.zeros((0, 3)),
                              np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))
        return Primitives(*(np.concatenate([getattr(it, k) for it in items]) for k in (
            'a', 'rot', 'radii', 'h', 'part', 'person')))

    def translate(self, offset: np.ndarray) -> 'Primitives':
        """A copy moved by ``offset`` (3,)."""
        return Primitives(self.a + np.asarray(offset, float), self.rot, self.radii, self.h,
                          self.part, self.person)


def surface_iuv(q: np.ndarray, part: np.ndarray, h: np.ndarray):
    """Fine part, U and V of points on capsules, from local coordinates.

    Args:
        q (np.ndarray): (N, 3) points in their capsule's scaled local frame.
        part (np.ndarray): (N,) coarse part 1..14 of each point's capsule.
        h (np.ndarray): (N,) local segment length of each point's capsule.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (N,) fine part 1..24
        (int64), U and V in [0, 1] (float64).
    """
    qx, qy, qz = q[:, 0], q[:, 1], q[:, 2]
    mode = PART_MODE[part - 1]
    fine = PART_FINE[part - 1]
    s = np.clip((qz + 1.0) / (h + 2.0), 0.0, 1.0)
    half_pi = 0.5 * np.pi
    # frontback: front = +y; V across the half, right-hand ordered
    front = qy >= 0
    ang_fb = np.where(front, np.arctan2(qx, qy), np.arctan2(qx, -qy))
    v_fb = (np.clip(ang_fb, -half_pi, half_pi) + half_pi) / np.pi
    # leftright: right = +x; V from back (-y) to front (+y)
    right = qx >= 0
    ang_lr = np.arctan2(qy, np.abs(qx))
    v_lr = (np.clip(ang_lr, -half_pi, half_pi) + half_pi) / np.pi
    # single: full turn, seam at the back
    v_single = (np.arctan2(qx, qy) + np.pi) / (2 * np.pi)
    fine_id = np.where(mode == 0, np.where(front, fine[:, 0], fine[:, 1]),
                       np.where(mode == 1, np.where(right, fine[:, 0], fine[:, 1]),
                                fine[:, 0]))
    v = np.where(mode == 0, v_fb, np.where(mode == 1, v_lr, v_single))
    return fine_id.astype(np.int64), s, np.clip(v, 0.0, 1.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (much faster than ``np.cross``)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


def rot_x(t: float) -> np.ndarray:
    """Rotation about x by ``t`` radians ((0,0,-1) -> (0, sin t, -cos t))."""
    c, s = np.cos(t), np.sin(t)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)


def rot_y(t: float) -> np.ndarray:
    """Rotation about y by ``t`` radians."""
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


def rot_z(t: float) -> np.ndarray:
    """Rotation about z (vertical) by ``t`` radians."""
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)


def build_body(shape: BodyShape, angles: Dict[str, float], yaw: float,
               position: Tuple[float, float], person: int = 0):
    """Joints and capsules of one posed body standing on the floor (z = 0).

    Body frame before ``yaw``: x = the person's right, y = forward, z = up.

    Args:
        shape (BodyShape): Proportions.
        angles (dict): Joint angles (radians) of
            :func:`mmdensekd.simulation.poses.sample_pose`.
        yaw (float): Heading about the vertical (0 = facing +y).
        position (tuple[float, float]): Floor position (x, y) of the pelvis.
        person (int): Person index stored in the primitives.

    Returns:
        tuple[np.ndarray, Primitives, float]: (17, 3) COCO joints (world),
        the 14 capsules, and the pelvis height (for seats).
    """
    L = shape.lengths()
    ryaw = rot_z(yaw)
    r_torso = ryaw @ rot_x(-angles['bend']) @ rot_y(angles['lean'])
    r_head = r_torso @ rot_x(-angles['nod']) @ rot_z(angles['head_yaw'])
    ex, ey, ez = np.eye(3)
    down = -ez
    prims = []  # (a, rot, radii, length)

    def limb_frame(r):  # distal direction = r @ down, front = r @ ey
        z = r @ down
        y = r @ ey
        return np.stack([_cross(y, z), y, z], axis=1)

    joints = np.zeros((NUM_JOINTS, 3))
    pelvis = np.zeros(3)
    # legs: index (hip, knee, ankle), side sign (+1 right)
    legs = {}
    for side, (hip_i, knee_i, ank_i) in (('r', (12, 14, 16)), ('l', (11, 13, 15))):
        sgn = 1.0 if side == 'r' else -1.0
        hip = pelvis + sgn * L['hip_hw'] * (ryaw @ ex)
        r_thigh = ryaw @ rot_x(angles[f'hip_{side}']) @ rot_y(-sgn * angles[f'hip_abd_{side}'])
        knee = hip + L['thigh'] * (r_thigh @ down)
        r_shin = r_thigh @ rot_x(-angles[f'knee_{side}'])
        ankle = knee + L['shin'] * (r_shin @ down)
        r_foot = ryaw @ rot_z(-sgn * 0.15) @ rot_x(angles[f'foot_{side}'])
        joints[[hip_i, knee_i, ank_i]] = hip, knee, ankle
        legs[side] = (hip, knee, ankle, r_thigh, r_shin, r_foot)
    neck = pelvis + L['spine'] * (r_torso @ ez)
    head_c = neck + (L['neck'] + L['head_rz'] * 0.8) * (r_head @ ez)
    arms = {}
    for side, (sh_i, el_i, wr_i) in (('r', (6, 8, 10)), ('l', (5, 7, 9))):
        sgn = 1.0 if side == 'r' else -1.0
        shoulder = neck + sgn * L['shoulder_hw'] * (r_torso @ ex) - 0.04 * (r_torso @ ez)
        r_up = r_torso @ rot_x(angles[f'sh_flex_{side}']) @ rot_y(-sgn * angles[f'sh_abd_{side}'])
        elbow = shoulder + L['upper_arm'] * (r_up @ down)
        r_fore = r_up @ rot_x(angles[f'elbow_{side}'])
        wrist = elbow + L['forearm'] * (r_fore @ down)
        joints[[sh_i, el_i, wr_i]] = shoulder, elbow, wrist
        arms[side] = (shoulder, elbow, wrist, r_up, r_fore)
    # face keypoints on the head ellipsoid surface
    hx, hy, hz = r_head[:, 0], r_head[:, 1], r_head[:, 2]
    joints[0] = head_c + 0.95 * L['head_ry'] * hy - 0.15 * L['head_rz'] * hz
    for idx, sgn in ((1, -1.0), (2, 1.0)):
        joints[idx] = (head_c + 0.78 * L['head_ry'] * hy + 0.22 * L['head_rz'] * hz
                       + sgn * 0.36 * L['head_rx'] * hx)
    for idx, sgn in ((3, -1.0), (4, 1.0)):
        joints[idx] = head_c + sgn * 0.97 * L['head_rx'] * hx + 0.05 * L['head_rz'] * hz

    # coarse parts in COARSE_PART_NAMES order
    t_rz = L['torso_ry'] * 0.9
    t_frame = np.stack([r_torso @ ex, r_torso @ ey, r_torso @ ez], axis=1)
    t_a = pelvis + (t_rz - 0.06 * shape.height / 1.72) * (r_torso @ ez)
    t_b = neck - 0.5 * t_rz * (r_torso @ ez)
    prims.append((t_a, t_frame, (L['torso_rx'], L['torso_ry'], t_rz), t_b))
    for side in ('r', 'l'):  # hands: RHand, LHand
        _, _, wrist, _, r_fore = arms[side]
        frame = limb_frame(r_fore)
        prims.append((wrist + 0.01 * frame[:, 2], frame,
                      (L['hand_rx'], L['hand_ry'], L['hand_ry']),
                      wrist + (L['hand'] - L['hand_ry']) * frame[:, 2]))
    for side in ('l', 'r'):  # feet: LFoot, RFoot
        _, _, ankle, _, _, r_foot = legs[side]
        z = r_foot @ ey
        y = r_foot @ ez
        frame = np.stack([_cross(y, z), y, z], axis=1)
        base = ankle - (L['ankle'] - L['foot_ry']) * ez
        prims.append((base - 0.04 * z, frame, (L['foot_rx'], L['foot_ry'], L['foot_ry']),
                      base + (L['foot'] - 0.04 - 2 * L['foot_ry']) * z))
    for seg in ('thigh', 'shin'):  # UpLegR, UpLegL, LowLegR, LowLegL
        for side in ('r', 'l'):
            hip, knee, ankle, r_thigh, r_shin, _ = legs[side]
            a, b, r = (hip, knee, r_thigh) if seg == 'thigh' else (knee, ankle, r_shin)
            rad = L['r_' + seg]
            prims.append((a, limb_frame(r), (rad, rad, rad), b))
    for seg in ('up', 'fore'):  # UpArmL, UpArmR, LowArmL, LowArmR
        for side in ('l', 'r'):
            shoulder, elbow, wrist, r_up, r_fore = arms[side]
            a, b, r = (shoulder, elbow, r_up) if seg == 'up' else (elbow, wrist, r_fore)
            rad = L['r_upper_arm'] if seg == 'up' else L['r_forearm']
            prims.append((a, limb_frame(r), (rad, rad, rad), b))
    head_frame = np.stack([hx, hy, hz], axis=1)
    prims.append((head_c, head_frame, (L['head_rx'], L['head_ry'], L['head_rz']), head_c))

    a = np.stack([p[0] for p in prims])
    rot = np.stack([p[1] for p in prims])
    radii = np.array([p[2] for p in prims], dtype=np.float64)
    length = np.array([max(float(np.linalg.norm(p[3] - p[0])), 0.0) for p in prims])
    # capsule axis must run A -> B: re-aim z where the segment is not degenerate
    for i, p in enumerate(prims):
        if length[i] > 1e-9:
            z = (p[3] - p[0]) / length[i]
            y = rot[i][:, 1] - z * float(rot[i][:, 1] @ z)
            if np.linalg.norm(y) < 1e-6:
                y = _cross(z, rot[i][:, 0])
            y = _unit(y)
            rot[i] = np.stack([_cross(y, z), y, z], axis=1)
    body = Primitives(a=a, rot=rot, radii=radii, h=length / radii[:, 2],
                      part=np.arange(1, NUM_PRIMS + 1, dtype=np.int64),
                      person=np.full(NUM_PRIMS, person, dtype=np.int64))
    lift = -float(body.lowest_z().min())
    offset = np.array([position[0], position[1], lift])
    return joints + offset, body.translate(offset), lift
