# Copyright (c) mmdensekd contributors. All rights reserved.
"""People who move: activity sequences of the simulated world.

Recorded WiFi pose data (MM-Fi, Person-in-WiFi) are videos of subjects
performing activities; consecutive frames are near-copies of each other, so
such data are split by sequence, never by frame. In sequence mode one person
performs one activity per sequence, with smooth motion over its frames:

* ``walking``: across the activity area, sideways to the camera, with a gait
  (hips, knees and arms swinging at the step frequency);
* ``raising_arms``: from standing, one or both arms up (forward or sideways)
  and down again;
* ``bending``: from standing, the torso bends forward and back up;
* ``sitting_down``: from standing onto a seat, then stays seated.

A sequence is a function of its seed alone (:func:`sample_sequence`); the
state at any (fractional) frame time is :func:`sequence_people`, so the
packets of a CSI window follow the motion (:func:`window_packets`) and the
windows of several consecutive frames can be stacked (temporal context).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .body import BodyShape, build_body
from .poses import sample_pose
from .scene import PersonState, RoomLayout, facing_yaw, sample_appearance

#: Activities of sequence mode.
ACTIVITIES = ('walking', 'raising_arms', 'bending', 'sitting_down')
#: Frames per second of a sequence (the camera's rate).
SEQUENCE_FPS = 10.0
#: CSI packets per second (the packets of one window are this far apart).
PACKET_RATE = 100.0


@dataclass
class SequenceSpec:
    """One person's activity over a sequence.

    Args:
        activity (str): One of :data:`ACTIVITIES`.
        num_frames (int): Frames of the sequence.
        shape (BodyShape): Proportions.
        appearance (dict): Clothing and skin.
        start (tuple[float, float]): Floor position at frame 0.
        velocity (tuple[float, float]): Floor velocity (m per frame).
        yaw (float): Heading.
        rest (dict): Joint angles at rest (standing).
        goal (dict): Joint angles at the activity's peak.
        period (float): Frames of one cycle (gait step pair, arm raise...).
        phase (float): Cycle phase at frame 0 (radians).
    """

    activity: str
    num_frames: int
    shape: BodyShape
    appearance: dict
    start: Tuple[float, float]
    velocity: Tuple[float, float]
    yaw: float
    rest: Dict[str, float]
    goal: Dict[str, float]
    period: float
    phase: float


def _blend(rest: Dict[str, float], goal: Dict[str, float], w: float) -> Dict[str, float]:
    return {k: (1 - w) * float(rest[k]) + w * float(goal[k]) for k in rest if k != 'kind'}


def _profile(spec: SequenceSpec, t: float) -> float:
    """Blend weight 0..1 of the goal pose at frame time ``t`` (smooth)."""
    t = max(float(t), 0.0)  # before the sequence the person is at its start
    if spec.activity == 'sitting_down':  # down over the first half, then seated
        u = min(t / max(0.5 * spec.num_frames, 1.0), 1.0)
        return 0.5 - 0.5 * np.cos(np.pi * u)
    return 0.5 - 0.5 * np.cos(2 * np.pi * t / spec.period + spec.phase)


def sequence_people(spec: SequenceSpec, t: float) -> List[PersonState]:
    """The person of ``spec`` at frame time ``t`` (fractional; times before
    0 are clamped to 0)."""
    tc = max(float(t), 0.0)
    pos = (spec.start[0] + spec.velocity[0] * tc, spec.start[1] + spec.velocity[1] * tc)
    if spec.activity == 'walking':
        pose = dict(spec.rest)
        swing = spec.goal['hip_r'] * np.sin(2 * np.pi * tc / spec.period + spec.phase)
        knee = spec.goal['knee_r']
        pose.update(hip_r=swing, hip_l=-swing, sh_flex_r=-0.7 * swing, sh_flex_l=0.7 * swing,
                    knee_r=knee * max(np.sin(2 * np.pi * tc / spec.period + spec.phase), 0.0)
                    + 0.05,
                    knee_l=knee * max(-np.sin(2 * np.pi * tc / spec.period + spec.phase), 0.0)
                    + 0.05)
        pose['kind'] = 'walking'
    else:
        w = float(_profile(spec, tc))
        pose = _blend(spec.rest, spec.goal, w)
        kind = dict(raising_arms='arms_raised', bending='bending', sitting_down='sitting')
        pose['kind'] = kind[spec.activity] if w > 0.5 else 'standing'
    return [PersonState(spec.shape, pose, spec.yaw, (float(pos[0]), float(pos[1])),
                        spec.appearance)]


def _in_view(spec: SequenceSpec, layout: RoomLayout, width: int, height: int,
             margin: int = 4) -> bool:
    camera = layout.camera(width, height)
    x0, x1, y0, y1 = layout.area
    for t in np.linspace(0, spec.num_frames - 1, min(spec.num_frames, 12)):
        person = sequence_people(spec, float(t))[0]
        if not (x0 - 0.2 <= person.position[0] <= x1 + 0.2
                and y0 - 0.2 <= person.position[1] <= y1 + 0.2):
            return False
        joints, body, _ = build_body(person.shape, person.pose, person.yaw, person.position)
        uv, depth = camera.project(np.concatenate([joints, body.a, body.b]))
        if depth.min() < 1.5 or uv[:, 0].min() < margin or uv[:, 1].min() < margin or \
                uv[:, 0].max() > width - margin or uv[:, 1].max() > height - margin:
            return False
    return True


def sample_sequence(layout: RoomLayout, rng: np.random.Generator, num_frames: int,
                    width: int, height: int, stations: Optional[np.ndarray] = None,
                    station_jitter: float = 0.05, heading_jitter: Optional[float] = None,
                    activity: Optional[str] = None, max_tries: int = 60) -> SequenceSpec:
    """Draw one person's activity sequence that stays in view.

    Args:
        layout (RoomLayout): The room.
        rng (np.random.Generator): Random source (the sequence's own).
        num_frames (int): Frames of the sequence.
        width (int): Image width.
        height (int): Image height.
        stations (np.ndarray, optional): (S, 2) standing spots; the person
            starts at one (walkers pass it mid-sequence). None = anywhere.
        station_jitter (float): Std (m) of the offset from the spot.
        heading_jitter (float, optional): The person faces the camera,
            turned by a normal angle of this std (radians); None = any
            heading.
        activity (str, optional): One of :data:`ACTIVITIES`; None draws one.
        max_tries (int): Draws before falling back to a person who raises
            the arms in the middle of the area.

    Returns:
        SequenceSpec: The sequence.
    """
    if num_frames < 1:
        raise ValueError(f'num_frames must be >= 1, got {num_frames}')
    if activity is not None and activity not in ACTIVITIES:
        raise ValueError(f'unknown activity {activity!r}; expected one of {ACTIVITIES}')
    x0, x1, y0, y1 = layout.area
    spec = None
    for _ in range(max_tries):
        act = activity or ACTIVITIES[int(rng.integers(len(ACTIVITIES)))]
        shape = BodyShape.sample(rng)
        if stations is None:
            centre = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        else:
            centre = stations[int(rng.integers(len(stations)))] + rng.normal(0, station_jitter, 2)
        turn = (rng.uniform(-np.pi, np.pi) if heading_jitter is None
                else rng.normal(0.0, heading_jitter))
        yaw = float(turn if heading_jitter is None else turn + facing_yaw(
            centre, layout.camera_position))
        rest = sample_pose(rng, 'standing')
        velocity = np.zeros(2)
        period = float(rng.uniform(0.8, 1.2) * num_frames)  # one raise / bend per sequence
        phase = 0.0
        if act == 'walking':
            speed = rng.uniform(0.3, 0.7) / SEQUENCE_FPS  # m per frame
            heading = yaw + np.pi / 2 * (1 if rng.random() < 0.5 else -1)  # sideways
            velocity = speed * np.array([-np.sin(heading), np.cos(heading)])
            goal = dict(hip_r=float(rng.uniform(0.25, 0.5)), knee_r=float(rng.uniform(0.3, 0.6)))
            period = float(SEQUENCE_FPS / rng.uniform(0.8, 1.1))  # frames per stride
            phase = float(rng.uniform(0, 2 * np.pi))
            yaw = float(heading)  # walkers face where they go
            start = centre - velocity * (num_frames - 1) / 2  # pass the spot mid-way
        elif act == 'sitting_down':
            goal = sample_pose(rng, 'sitting')
            start = centre
        elif act == 'raising_arms':
            goal = sample_pose(rng, 'arms_raised')
            phase = float(rng.uniform(-0.6, 0.6))
            start = centre
        else:
            goal = sample_pose(rng, 'bending')
            phase = float(rng.uniform(-0.6, 0.6))
            start = centre
        candidate = SequenceSpec(act, int(num_frames), shape, sample_appearance(rng),
                                 (float(start[0]), float(start[1])),
                                 (float(velocity[0]), float(velocity[1])), yaw, rest, goal,
                                 period, phase)
        if _in_view(candidate, layout, width, height):
            spec = candidate
            break
    if spec is None:  # a person raising the arms in the middle of the area
        rest = sample_pose(rng, 'standing')
        spec = SequenceSpec('raising_arms', int(num_frames), BodyShape(), sample_appearance(rng),
                            (0.5 * (x0 + x1), 0.5 * (y0 + y1)), (0.0, 0.0),
                            facing_yaw((0.5 * (x0 + x1), 0.5 * (y0 + y1)),
                                       layout.camera_position),
                            rest, sample_pose(rng, 'arms_raised'), float(num_frames), 0.0)
    return spec


def window_packets(spec: SequenceSpec, t: float, num_packets: int) -> List[List[PersonState]]:
    """The person at each packet of the CSI window of frame time ``t``:
    packets :data:`PACKET_RATE` apart, the middle one at the frame."""
    centre = num_packets // 2
    dt = SEQUENCE_FPS / PACKET_RATE  # frames between packets
    return [sequence_people(spec, t + (q - centre) * dt) for q in range(num_packets)]
