# Copyright (c) mmdensekd contributors. All rights reserved.
"""Random plausible poses as joint angles for :func:`build_body`.

Angles (radians): ``bend`` (torso forward), ``lean`` (torso sideways),
``nod``, ``head_yaw``; per side ``r`` / ``l``: ``hip_*`` (thigh flexion,
forward positive), ``hip_abd_*``, ``knee_*`` (flexion >= 0), ``foot_*``,
``sh_flex_*`` (arm raised forward, 0 = hanging, pi = up), ``sh_abd_*``
(raised sideways), ``elbow_*`` (flexion >= 0).
"""
from typing import Dict, Optional

import numpy as np

#: Pose families and their sampling weights.
POSE_KINDS = ('standing', 'walking', 'arms_raised', 'bending', 'sitting')
POSE_WEIGHTS = (0.25, 0.25, 0.2, 0.15, 0.15)


def _neutral(rng: np.random.Generator) -> Dict[str, float]:
    u = rng.uniform
    pose = dict(bend=u(-0.03, 0.08), lean=u(-0.05, 0.05), nod=u(-0.15, 0.2),
                head_yaw=u(-0.4, 0.4))
    for s in ('r', 'l'):
        pose.update({f'hip_{s}': u(-0.05, 0.1), f'hip_abd_{s}': u(0.0, 0.08),
                     f'knee_{s}': u(0.0, 0.1), f'foot_{s}': u(-0.1, 0.05),
                     f'sh_flex_{s}': u(-0.1, 0.3), f'sh_abd_{s}': u(0.05, 0.3),
                     f'elbow_{s}': u(0.05, 0.6)})
    return pose


def sample_pose(rng: np.random.Generator, kind: Optional[str] = None) -> Dict[str, float]:
    """Sample the joint angles of one pose.

    Args:
        rng (np.random.Generator): Random source.
        kind (str, optional): One of :data:`POSE_KINDS`; None draws one with
            :data:`POSE_WEIGHTS`.

    Returns:
        dict: The angles (see the module docstring) and ``'kind'``.
    """
    if kind is None:
        kind = POSE_KINDS[int(rng.choice(len(POSE_KINDS), p=POSE_WEIGHTS))]
    if kind not in POSE_KINDS:
        raise ValueError(f'unknown pose kind {kind!r}; expected one of {POSE_KINDS}')
    u = rng.uniform
    p = _neutral(rng)
    if kind == 'walking':
        swing = u(0.2, 0.5) * (1 if rng.random() < 0.5 else -1)
        p.update(hip_r=swing, hip_l=-swing, knee_r=u(0.05, 0.5), knee_l=u(0.05, 0.5),
                 sh_flex_r=-0.7 * swing, sh_flex_l=0.7 * swing, sh_abd_r=u(0.05, 0.15),
                 sh_abd_l=u(0.05, 0.15), elbow_r=u(0.2, 0.7), elbow_l=u(0.2, 0.7))
    elif kind == 'arms_raised':
        for s in ('r', 'l') if rng.random() < 0.6 else (('r', ) if rng.random() < 0.5
                                                          else ('l', )):
            if rng.random() < 0.5:  # raised forward / up
                p.update({f'sh_flex_{s}': u(1.2, 3.0), f'sh_abd_{s}': u(0.0, 0.3)})
            else:  # raised sideways
                p.update({f'sh_flex_{s}': u(-0.1, 0.4), f'sh_abd_{s}': u(1.2, 2.6)})
            p[f'elbow_{s}'] = u(0.0, 1.2)
    elif kind == 'bending':
        bend = u(0.5, 1.2)
        p.update(bend=bend, hip_r=u(-0.1, 0.1), hip_l=u(-0.1, 0.1), knee_r=u(0.0, 0.3),
                 knee_l=u(0.0, 0.3), nod=u(-0.4, 0.1))
        for s in ('r', 'l'):
            p[f'sh_flex_{s}'] = bend + u(-0.3, 0.5)
            p[f'elbow_{s}'] = u(0.0, 0.5)
    elif kind == 'sitting':
        hip = u(1.35, 1.65)
        p.update(bend=u(-0.15, 0.2), hip_r=hip + u(-0.1, 0.1), hip_l=hip + u(-0.1, 0.1),
                 knee_r=hip + u(-0.2, 0.2), knee_l=hip + u(-0.2, 0.2))
        for s in ('r', 'l'):
            p[f'sh_flex_{s}'] = u(0.2, 0.9)
            p[f'elbow_{s}'] = u(0.4, 1.4)
    p['kind'] = kind
    return p


def jitter_pose(pose: Dict[str, float], rng: np.random.Generator,
                scale: float = 0.01) -> Dict[str, float]:
    """The pose with every angle moved by ``N(0, scale)`` (small motion).

    Args:
        pose (dict): Angles of :func:`sample_pose`.
        rng (np.random.Generator): Random source.
        scale (float): Standard deviation in radians.

    Returns:
        dict: A new angle dict.
    """
    out = dict(pose)
    for key in sorted(pose):
        if key != 'kind':
            out[key] = float(pose[key]) + float(rng.normal(0.0, scale))
    return out
