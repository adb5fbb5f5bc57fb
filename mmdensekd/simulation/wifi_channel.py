# Copyright (c) mmdensekd contributors. All rights reserved.
"""Geometric multipath WiFi channel of a simulated room (CSI).

For transmit antenna ``i``, receive antenna ``j`` and subcarrier frequency
``f``::

    H_ij(f) = sum_paths a * exp(-1j * 2 * pi * f * d / c)

over the paths: line of sight (``a = g / d``, times the blocking factor of
the bodies crossing it), the six first-order wall / floor / ceiling
reflections (image sources, ``a = g * gamma / d``), furniture scatterers and
body scatterers (``a = g * gain * area / (d1 * d2)``, the bistatic path
loss). Bodies also shadow the line of sight and both legs of every static
path (smooth Fresnel-zone attenuation, :func:`segment_blocking`, the effect
radio tomographic imaging relies on). Bodies scatter from points along each
capsule's axis, sharing the capsule's surface area. Between the packets of
one frame the people move a little (random walk of position and joint
angles). Measured CSI adds what real NICs show, per packet: a random phase
offset and a random linear phase slope across the reported subcarriers
(common to all antennas; ``CSIPhaseSanitize`` removes both), an AGC gain
jitter, and complex white noise at a given SNR. Labels are never used.

Shape legend: ``T`` tx antennas, ``R`` rx antennas, ``K`` subcarriers,
``L`` paths, ``Q`` packets.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmdensekd.structures.csi_layout import SPEED_OF_LIGHT, CSILayout

from .body import Primitives
from .poses import jitter_pose
from .scene import FrameScene, PersonState, RoomLayout, build_people


@dataclass
class ChannelConfig:
    """Gains and impairments of the channel model.

    Args:
        ref_gain (float): Overall amplitude scale ``g``.
        los_gain (float): Line-of-sight weight.
        wall_reflection (float): Reflection coefficient of walls.
        floor_reflection (float): Reflection coefficient of floor/ceiling.
        furniture_gain (float): Scattering gain of furniture (per m^2).
        body_gain (float): Scattering gain of bodies (per m^2). The default
            puts body echoes about 20 dB above the noise at 25 dB SNR and
            near the static paths' power; much stronger echoes make the CSI
            a speckle pattern (wavelength-scale in position) that is harder
            to learn from than the smooth shadowing.
        block_strength (float): Attenuation (nepers) of a line-of-sight or
            static path by a 0.1 m thick body part centred on it.
        fresnel_width (float): Width (m) added to a part's radius for
            blocking, plus ``fresnel_scale`` times the first Fresnel-zone
            radius ``sqrt(wavelength * s1 * s2 / (s1 + s2))`` at the point of
            the path nearest to the part.
        fresnel_scale (float): See ``fresnel_width``.
        scatter_spacing (float): Spacing (m) of scatterers along a capsule.
        motion_step (float): Std (m) of a person's move between packets
            (1 cm: walking speed at about 100 packets per second).
        pose_jitter (float): Std (rad) of joint-angle change between packets.
        slope_max (float): Max random phase slope (rad per reported
            subcarrier).
        agc_db (float): Std of the per-packet AGC gain (dB).
    """

    ref_gain: float = 100.0
    los_gain: float = 1.0
    wall_reflection: float = 0.3
    floor_reflection: float = 0.2
    furniture_gain: float = 1.0
    body_gain: float = 1.5
    block_strength: float = 0.6
    fresnel_width: float = 0.05
    fresnel_scale: float = 0.6
    scatter_spacing: float = 0.15
    motion_step: float = 0.01
    pose_jitter: float = 0.01
    slope_max: float = 0.15
    agc_db: float = 0.5


def antenna_positions(centre: np.ndarray, axis: np.ndarray, num: int,
                      spacing: float) -> np.ndarray:
    """(num, 3) positions of a uniform linear array centred at ``centre``."""
    offsets = (np.arange(num) - (num - 1) / 2.0) * spacing
    return np.asarray(centre, float)[None] + offsets[:, None] * np.asarray(axis, float)[None]


def path_sum(freqs: np.ndarray, amps: np.ndarray, dists: np.ndarray) -> np.ndarray:
    """``sum_l amps[..., l] * exp(-1j 2 pi f d_l / c)`` for every frequency.

    Args:
        freqs (np.ndarray): (K,) Hz.
        amps (np.ndarray): (..., L) path amplitudes.
        dists (np.ndarray): (..., L) path lengths in metres.

    Returns:
        np.ndarray: (..., K) complex128.
    """
    phase = -2j * np.pi * dists[..., None, :] * (np.asarray(freqs)[:, None] / SPEED_OF_LIGHT)
    return np.sum(amps[..., None, :] * np.exp(phase), axis=-1)


def scatter_paths(tx: np.ndarray, rx: np.ndarray, points: np.ndarray, areas: np.ndarray,
                  gain: float) -> Tuple[np.ndarray, np.ndarray]:
    """Bistatic paths via point scatterers.

    Args:
        tx (np.ndarray): (T, 3) transmit antennas.
        rx (np.ndarray): (R, 3) receive antennas.
        points (np.ndarray): (L, 3) scatterers.
        areas (np.ndarray): (L,) scattering areas (m^2).
        gain (float): ``g * gain``.

    Returns:
        tuple[np.ndarray, np.ndarray]: (T, R, L) amplitudes
        ``gain * area / (d1 * d2)`` and lengths ``d1 + d2``.
    """
    d1 = np.linalg.norm(points[None] - tx[:, None], axis=-1)  # (T, L)
    d2 = np.linalg.norm(points[None] - rx[:, None], axis=-1)  # (R, L)
    amps = gain * areas[None, None] / (d1[:, None] * d2[None])
    return amps, d1[:, None] + d2[None]


def static_paths(layout: RoomLayout, tx: np.ndarray, rx: np.ndarray,
                 cfg: ChannelConfig) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wall reflections and furniture scatterers (no line of sight).

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (T, R, L) amplitudes and
        lengths, and (T, R, L, 3) bounce points (specular point on the wall,
        or the scatterer), through which bodies can shadow the path.
    """
    amps, dists, bounces = [], [], []
    for axis in range(3):
        for plane in (0.0, float(layout.size[axis])):
            image = tx.copy()
            image[:, axis] = 2 * plane - tx[:, axis]
            d = np.linalg.norm(image[:, None] - rx[None], axis=-1)
            gamma = cfg.floor_reflection if axis == 2 else cfg.wall_reflection
            amps.append(cfg.ref_gain * gamma / d)
            dists.append(d)
            # specular point: where the image -> rx line crosses the plane
            frac = (plane - image[:, None, axis]) / (rx[None, :, axis] - image[:, None, axis])
            bounces.append(image[:, None] + frac[..., None] * (rx[None] - image[:, None]))
    amps = np.stack(amps, -1)
    dists = np.stack(dists, -1)
    bounces = np.stack(bounces, 2)
    if layout.furniture:
        pts = np.stack([b.centre for b in layout.furniture])
        area = np.array([b.face_area for b in layout.furniture])
        fa, fd = scatter_paths(tx, rx, pts, area, cfg.ref_gain * cfg.furniture_gain)
        amps, dists = np.concatenate([amps, fa], -1), np.concatenate([dists, fd], -1)
        fb = np.broadcast_to(pts[None, None], (len(tx), len(rx)) + pts.shape)
        bounces = np.concatenate([bounces, fb], 2)
    return amps, dists, bounces


def body_scatterers(prims: Primitives, spacing: float) -> Tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Scatterer points along every capsule axis.

    Returns:
        tuple: (L, 3) points, (L,) areas (the capsule's area shared equally)
        and (L,) capsule mean radius of each point.
    """
    pts, areas, radius = [], [], []
    a, b = prims.a, prims.b
    area = prims.surface_area()
    for p in range(len(prims)):
        length = float(np.linalg.norm(b[p] - a[p]))
        n = 1 + int(round(length / spacing))
        f = (np.arange(n) + 0.5) / n
        pts.append(a[p][None] + f[:, None] * (b[p] - a[p])[None])
        areas.append(np.full(n, area[p] / n))
        radius.append(np.full(n, float(prims.radii[p, :2].mean())))
    if not pts:
        return np.zeros((0, 3)), np.zeros(0), np.zeros(0)
    return np.concatenate(pts), np.concatenate(areas), np.concatenate(radius)


def segment_blocking(starts: np.ndarray, ends: np.ndarray, points: np.ndarray,
                     radius: np.ndarray, cfg: ChannelConfig,
                     wavelength: float = 0.123) -> np.ndarray:
    """Amplitude factor in (0, 1] of straight ray segments shadowed by bodies.

    Each body point of radius ``r`` at distance ``g`` from a segment removes
    ``block_strength * (r / 0.05) * exp(-(g / w)^2)`` nepers with
    ``w = r + fresnel_width + fresnel_scale * F1`` and ``F1`` the first
    Fresnel-zone radius at the nearest point of the segment (a smooth
    shadow, widest mid-path).

    Args:
        starts (np.ndarray): (..., 3) segment starts.
        ends (np.ndarray): (..., 3) segment ends.
        points (np.ndarray): (M, 3) body points.
        radius (np.ndarray): (M,) their radii.
        cfg (ChannelConfig): Blocking strength and width.
        wavelength (float): Carrier wavelength (m).

    Returns:
        np.ndarray: (...) factors.
    """
    starts, ends = np.broadcast_arrays(starts, ends)
    if len(points) == 0:
        return np.ones(starts.shape[:-1])
    seg = (ends - starts)[..., None, :]  # (..., 1, 3)
    rel = points - starts[..., None, :]  # (..., M, 3)
    lam = np.clip(np.sum(rel * seg, -1) / np.maximum(np.sum(seg * seg, -1), 1e-12), 0, 1)
    dist = np.linalg.norm(rel - lam[..., None] * seg, axis=-1)  # (..., M)
    length = np.sqrt(np.sum(seg * seg, -1))  # (..., 1)
    fresnel = np.sqrt(wavelength * lam * (1 - lam) * length)
    width = radius + cfg.fresnel_width + cfg.fresnel_scale * fresnel
    depth = cfg.block_strength * (radius / 0.05) * np.exp(-(dist / width)**2)
    return np.exp(-depth.sum(-1))


def channel_response(freqs: np.ndarray, tx: np.ndarray, rx: np.ndarray,
                     layout: Optional[RoomLayout], prims: Optional[Primitives],
                     cfg: ChannelConfig, los: bool = True) -> np.ndarray:
    """Noise-free CSI of a static snapshot.

    Args:
        freqs (np.ndarray): (K,) Hz.
        tx (np.ndarray): (T, 3) transmit antennas.
        rx (np.ndarray): (R, 3) receive antennas.
        layout (RoomLayout, optional): Room (walls, furniture); None = free
            space.
        prims (Primitives, optional): Bodies; None or empty = nobody.
        cfg (ChannelConfig): Gains.
        los (bool): Include the line of sight.

    Returns:
        np.ndarray: (T, R, K) complex128.
    """
    h = np.zeros((len(tx), len(rx), len(freqs)), dtype=np.complex128)
    wavelength = SPEED_OF_LIGHT / float(np.mean(freqs))
    pts, radius = np.zeros((0, 3)), np.zeros(0)
    if prims is not None and len(prims):
        pts, area, radius = body_scatterers(prims, cfg.scatter_spacing)
        amps, dists = scatter_paths(tx, rx, pts, area, cfg.ref_gain * cfg.body_gain)
        h += path_sum(freqs, amps, dists)
    if los:
        d = np.linalg.norm(tx[:, None] - rx[None], axis=-1)
        block = segment_blocking(tx[:, None], rx[None], pts, radius, cfg, wavelength)
        h += path_sum(freqs, (cfg.ref_gain * cfg.los_gain * block / d)[..., None], d[..., None])
    if layout is not None:
        amps, dists, bounce = static_paths(layout, tx, rx, cfg)
        if len(pts):  # bodies shadow both legs of every static path
            amps = amps * segment_blocking(tx[:, None, None], bounce, pts, radius, cfg,
                                           wavelength) * \
                segment_blocking(bounce, rx[None, :, None], pts, radius, cfg, wavelength)
        h += path_sum(freqs, amps, dists)
    return h


def receiver_sites(layout: RoomLayout, num_links: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Centre and array axis of each receiver (link) of a layout.

    Link 0 is the layout's receiver (:attr:`RoomLayout.rx`, facing the
    transmitter across the activity area). Further receivers stand around the
    area, as the three receivers of Person-in-WiFi 3D: on the back wall behind
    the area, in front of the area beside the camera's view, and on the
    transmitter's wall at the far end. They are a function of the layout's
    size and area only (no random draw), so a layout's single-link CSI does not
    change.

    Args:
        layout (RoomLayout): The room.
        num_links (int): Receivers wanted (1 to 4).

    Returns:
        list[tuple[np.ndarray, np.ndarray]]: ``num_links`` (centre (3,), array
        axis (3,)) pairs.
    """
    lx, ly, _ = (float(v) for v in layout.size)
    x0, x1, y0, y1 = layout.area
    ex, ey = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    sites = [(np.asarray(layout.rx, float), np.asarray(layout.array_axis, float)),
             (np.array([0.5 * (x0 + x1) + 0.8, ly - 0.3, 1.3]), ex),
             (np.array([min(x1 + 0.3, lx - 0.3), max(y0 - 0.8, 0.4), 1.1]), ex),
             (np.array([0.35, min(y1 + 0.6, ly - 0.4), 1.2]), ey)]
    if not 1 <= num_links <= len(sites):
        raise ValueError(f'num_links must be 1 to {len(sites)}, got {num_links}')
    return sites[:num_links]


def layout_antennas(layout: RoomLayout, csi_layout: CSILayout) -> Tuple[np.ndarray, np.ndarray]:
    """(T, 3) and (R, 3) antenna positions (half-wavelength spacing) of link 0."""
    tx, rxs = link_antennas(layout, csi_layout)
    return tx, rxs[0]


def link_antennas(layout: RoomLayout, csi_layout: CSILayout) -> Tuple[np.ndarray,
                                                                       List[np.ndarray]]:
    """(T, 3) transmit antennas and the (R, 3) antennas of every receiver
    (:func:`receiver_sites`), half-wavelength spaced."""
    spacing = csi_layout.wavelength / 2
    tx = antenna_positions(layout.tx, layout.array_axis, csi_layout.num_tx, spacing)
    return tx, [antenna_positions(c, axis, csi_layout.num_rx, spacing)
                for c, axis in receiver_sites(layout, csi_layout.num_links)]


def packet_people(people: List[PersonState], rng: np.random.Generator, num_packets: int,
                  cfg: ChannelConfig) -> List[List[PersonState]]:
    """The people at each packet: a small random walk around the frame pose.

    Packet ``num_packets // 2`` is the camera frame's exact state.
    """
    centre = num_packets // 2
    states = [list(people) for _ in range(num_packets)]
    for direction in (1, -1):
        cur = list(people)
        q = centre + direction
        while 0 <= q < num_packets:
            cur = [PersonState(p.shape, jitter_pose(p.pose, rng, cfg.pose_jitter), p.yaw,
                               (p.position[0] + float(rng.normal(0, cfg.motion_step)),
                                p.position[1] + float(rng.normal(0, cfg.motion_step))),
                               p.appearance) for p in cur]
            states[q] = cur
            q += direction
    return states


def simulate_csi(scene: FrameScene, csi_layout: CSILayout, rng: np.random.Generator,
                 snr_db: Optional[float] = 25.0, cfg: Optional[ChannelConfig] = None,
                 impair: bool = True, motion: bool = True,
                 packets: Optional[List[List[PersonState]]] = None) -> Dict[str, np.ndarray]:
    """CSI of one frame, clean and as measured.

    With several links (``csi_layout.num_links > 1``) every receiver is its own
    NIC: its own phase offset, slope, AGC and noise per packet.

    Args:
        scene (FrameScene): The frame (room + people).
        csi_layout (CSILayout): Frequencies, antennas, packets, links.
        rng (np.random.Generator): Random source (motion, impairments).
        snr_db (float, optional): Thermal noise SNR relative to the mean
            clean power; None = no noise.
        cfg (ChannelConfig, optional): Channel gains; default config if None.
        impair (bool): Apply phase offset / slope and AGC jitter.
        motion (bool): Move the people between packets (a small random walk,
            :func:`packet_people`).
        packets (list[list[PersonState]], optional): The people at each
            packet (``num_packets`` lists), e.g. along a sequence's motion;
            replaces ``motion``.

    Returns:
        dict: ``clean`` and ``measured`` (Q, K, T, R) complex128 (with links:
        (L, Q, K, T, R)), plus ``offset``, ``slope`` and ``agc`` ((Q,), with
        links (L, Q)) of the impairments.
    """
    cfg = cfg or ChannelConfig()
    tx, rxs = link_antennas(scene.layout, csi_layout)
    freqs = csi_layout.freqs
    q = csi_layout.num_packets
    if packets is not None:
        if len(packets) != q:
            raise ValueError(f'{len(packets)} packet states for {q} packets')
        prims = [build_people(people)[1] if people else None for people in packets]
    elif motion and scene.people:
        per_packet = packet_people(scene.people, rng, q, cfg)
        prims = [build_people(people)[1] for people in per_packet]
    else:
        prims = [scene.prims] * q
    outs = []
    for rx in rxs:
        clean = np.stack([channel_response(freqs, tx, rx, scene.layout, p, cfg).transpose(2, 0, 1)
                          for p in prims])  # (Q, K, T, R)
        outs.append(_measure(clean, rng, snr_db, cfg, impair))
    if len(outs) == 1:
        return outs[0]
    return {key: np.stack([o[key] for o in outs]) for key in outs[0]}


def _measure(clean: np.ndarray, rng: np.random.Generator, snr_db: Optional[float],
             cfg: ChannelConfig, impair: bool) -> Dict[str, np.ndarray]:
    """One receiver's measured CSI: impairments and noise on (Q, K, T, R)."""
    q, k = clean.shape[:2]
    offset, slope, agc = np.zeros(q), np.zeros(q), np.ones(q)
    measured = clean.copy()
    if impair:
        offset = rng.uniform(-np.pi, np.pi, q)
        slope = rng.uniform(-cfg.slope_max, cfg.slope_max, q)
        agc = 10**(rng.normal(0.0, cfg.agc_db, q) / 20)
        ramp = offset[:, None] + slope[:, None] * (np.arange(k) - (k - 1) / 2)[None]
        measured = measured * (agc[:, None] * np.exp(1j * ramp))[:, :, None, None]
    if snr_db is not None:
        power = float(np.mean(np.abs(clean)**2))
        sigma = np.sqrt(power / 10**(snr_db / 10) / 2)
        measured = measured + sigma * (rng.normal(size=clean.shape)
                                       + 1j * rng.normal(size=clean.shape))
    return dict(clean=clean, measured=measured, offset=offset, slope=slope, agc=agc)
