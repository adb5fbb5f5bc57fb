# Copyright (c) mmdensekd contributors. All rights reserved.
"""Group CSI packets into one window per video frame and map them to a model layout.

A capture (see :mod:`mmdensekd.datasets.csi_capture`) holds packets at
irregular times with gaps where packets were dropped. For a video frame at
time ``c`` the window is ``[c - W / 2, c + W / 2)`` (``W`` the frame
period). Each window yields exactly ``P`` packets (``packets_per_frame``):

* ``n >= P`` packets inside: ``P`` of them, evenly spread by index;
* ``min_packets <= n < P``: the ``n`` real packets plus ``P - n`` filled
  ones placed in the largest gaps, linearly interpolated in time from the
  neighbouring real packets (``fill='linear'``) or copied from the nearest
  one (``fill='nearest'``); they are flagged in ``valid`` and counted;
* ``n < min_packets``: the frame is skipped and counted.

Layouts (shape legend: ``P`` packets, ``S`` subcarriers, ``T`` transmit and
``R`` receive antennas):

* ``person-in-wifi``: ``(P * S, T, R) = (150, 3, 3)``, 5 packets x 30
  subcarriers, 3 x 3 antennas (Intel 5300; the WiSPPN ``csi_serial`` order);
* ``mmfi``: ``(R, S, P) = (3, 114, 10)``, one transmit antenna;
* an explicit ``'AXES:P,S,T,R'`` spec, e.g. ``'ps,t,r:5,30,3,3'``: comma
  separated groups of the letters ``p s t r`` (letters in one group are
  merged, in that order); letters of size 1 may be left out.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdensekd.structures.csi_layout import CSILayout


def count_dropped_packets(times: np.ndarray, interval: Optional[float] = None,
                          tolerance: float = 1.5) -> Tuple[int, np.ndarray]:
    """Estimate packets dropped from the gaps of a packet time sequence.

    A gap longer than ``tolerance * interval`` holds ``round(gap /
    interval) - 1`` dropped packets.

    Args:
        times (np.ndarray): (N,) increasing packet times.
        interval (float, optional): Nominal packet interval; the median
            interval when None.
        tolerance (float): Gap factor above which packets count as dropped.

    Returns:
        tuple: Number of dropped packets and the indices ``i`` of packets
        preceded by a gap.
    """
    steps = np.diff(np.asarray(times, np.float64))
    if len(steps) == 0:
        return 0, np.zeros(0, np.int64)
    interval = float(np.median(steps)) if interval is None else float(interval)
    if interval <= 0:
        return 0, np.zeros(0, np.int64)
    gaps = np.nonzero(steps > tolerance * interval)[0]
    dropped = int(np.sum(np.maximum(np.round(steps[gaps] / interval) - 1, 0)))
    return dropped, gaps + 1


def frame_times_from_fps(t_start: float, t_end: float, fps: float) -> np.ndarray:
    """Centres of the frame windows ``[t_start + k / fps, t_start + (k + 1) / fps)``
    that end by ``t_end``."""
    if fps <= 0:
        raise ValueError(f'fps must be positive, got {fps}')
    num = int(math.floor((t_end - t_start) * fps + 1e-9))
    return t_start + (np.arange(max(num, 0)) + 0.5) / fps


@dataclass
class CSIWindows:
    """Per-frame packet windows.

    Attributes:
        frames (np.ndarray): (F,) indices of the kept frames.
        times (np.ndarray): (F,) frame times.
        csi (np.ndarray): (F, P, S, R, T) complex64.
        packet_times (np.ndarray): (F, P) times of the packets.
        valid (np.ndarray): (F, P) bool, False for filled packets.
        skipped (list[int]): Frames skipped for too few packets.
        num_filled (int): Filled (dropped) packet slots.
    """

    frames: np.ndarray
    times: np.ndarray
    csi: np.ndarray
    packet_times: np.ndarray
    valid: np.ndarray
    skipped: List[int] = field(default_factory=list)
    num_filled: int = 0

    def __len__(self) -> int:
        return len(self.frames)


def _fill_times(real: np.ndarray, start: float, end: float, num: int) -> np.ndarray:
    """Times of ``num`` extra packets placed in the largest gaps of ``real``."""
    pts = list(real)
    extra = []
    for _ in range(num):
        bounds = [start] + pts + [end]
        # edge gaps count double: a packet on time sits half a slot from the edge
        gaps = [(bounds[i + 1] - bounds[i]) * (2 if i in (0, len(bounds) - 2) else 1)
                for i in range(len(bounds) - 1)]
        i = int(np.argmax(gaps))
        new = (bounds[i] + bounds[i + 1]) / 2
        extra.append(new)
        pts = sorted(pts + [new])
    return np.asarray(extra)


def _interpolate(times: np.ndarray, csi: np.ndarray, at: np.ndarray, fill: str) -> np.ndarray:
    """CSI at times ``at`` from the packets (``times`` increasing)."""
    hi = np.clip(np.searchsorted(times, at), 0, len(times) - 1)
    lo = np.clip(hi - 1, 0, len(times) - 1)
    if fill == 'nearest':
        near = np.where(np.abs(times[lo] - at) <= np.abs(times[hi] - at), lo, hi)
        return csi[near]
    span = times[hi] - times[lo]
    w = np.where(span > 0, (at - times[lo]) / np.where(span > 0, span, 1), 0.0)
    w = np.clip(w, 0, 1).reshape((-1, ) + (1, ) * (csi.ndim - 1))
    return ((1 - w) * csi[lo] + w * csi[hi]).astype(csi.dtype)


def window_packets(times: np.ndarray,
                   csi: np.ndarray,
                   frame_times: np.ndarray,
                   packets_per_frame: int,
                   window: Optional[float] = None,
                   min_packets: Optional[int] = None,
                   fill: str = 'linear') -> CSIWindows:
    """Group packets into one window of ``packets_per_frame`` packets per frame.

    Args:
        times (np.ndarray): (N,) increasing packet times (seconds).
        csi (np.ndarray): (N, S, R, T) complex CSI.
        frame_times (np.ndarray): (F0,) frame times, the window centres.
        packets_per_frame (int): ``P``.
        window (float, optional): Window length; the median frame interval
            when None (required for a single frame).
        min_packets (int, optional): Fewer real packets skip the frame.
            Defaults to ``ceil(P / 2)``.
        fill (str): ``'linear'`` or ``'nearest'`` for missing packets.

    Returns:
        CSIWindows: The kept frames.
    """
    times = np.asarray(times, np.float64)
    frame_times = np.asarray(frame_times, np.float64)
    num = int(packets_per_frame)
    if num < 1:
        raise ValueError(f'packets_per_frame must be >= 1, got {packets_per_frame}')
    if fill not in ('linear', 'nearest'):
        raise ValueError(f"fill must be 'linear' or 'nearest', got {fill!r}")
    min_packets = int(math.ceil(num / 2)) if min_packets is None else int(min_packets)
    if not 1 <= min_packets <= num:
        raise ValueError(f'min_packets must be in [1, {num}], got {min_packets}')
    if len(times) != len(csi):
        raise ValueError(f'{len(times)} packet times for {len(csi)} CSI packets')
    if window is None:
        if len(frame_times) < 2:
            raise ValueError('window must be given for fewer than 2 frame times')
        window = float(np.median(np.diff(frame_times)))
    if window <= 0:
        raise ValueError(f'window must be positive, got {window}')
    starts = np.searchsorted(times, frame_times - window / 2, side='left')
    ends = np.searchsorted(times, frame_times + window / 2, side='left')
    kept, out_csi, out_t, out_valid, skipped, filled = [], [], [], [], [], 0
    for k, (c, a, b) in enumerate(zip(frame_times, starts, ends)):
        n = int(b - a)
        if n < min_packets:
            skipped.append(k)
            continue
        if n >= num:
            idx = a + np.round(np.linspace(0, n - 1, num)).astype(np.int64)
            win_t, win_csi, valid = times[idx], csi[idx], np.ones(num, bool)
        else:
            extra = _fill_times(times[a:b], c - window / 2, c + window / 2, num - n)
            win_t = np.concatenate([times[a:b], extra])
            order = np.argsort(win_t, kind='stable')
            win_csi = np.concatenate([csi[a:b], _interpolate(times, csi, extra, fill)])[order]
            valid = np.concatenate([np.ones(n, bool), np.zeros(num - n, bool)])[order]
            win_t = win_t[order]
            filled += num - n
        kept.append(k)
        out_csi.append(win_csi)
        out_t.append(win_t)
        out_valid.append(valid)
    shape = (0, num) + tuple(csi.shape[1:])
    return CSIWindows(
        frames=np.asarray(kept, np.int64), times=frame_times[kept],
        csi=np.stack(out_csi).astype(np.complex64) if kept else np.zeros(shape, np.complex64),
        packet_times=np.stack(out_t) if kept else np.zeros((0, num)),
        valid=np.stack(out_valid) if kept else np.zeros((0, num), bool), skipped=skipped,
        num_filled=filled)


def null_subcarriers(csi: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """Subcarriers (axis 1 of (N, S, ...) CSI) that are zero in more than
    ``fraction`` of the packets, e.g. guard and DC tones of ESP32 / nexmon."""
    zero = np.abs(np.asarray(csi)) == 0
    per_sub = zero.reshape(zero.shape[0], zero.shape[1], -1).all(-1).mean(0)
    return per_sub > fraction


def _resample_subcarriers(amp: np.ndarray, phase: np.ndarray, target: int, mode: str,
                          max_upsample: float, source: str) -> Tuple[np.ndarray, np.ndarray]:
    num = amp.shape[2]
    if num == target:
        return amp, phase
    if mode == 'exact':
        raise ValueError(f'{source}: {num} subcarriers cannot map to the layout\'s {target} '
                         "(subcarrier mode 'exact')")
    if num < 2 or target / num > max_upsample:
        raise ValueError(f'{source}: {num} subcarriers cannot map to the layout\'s {target} '
                         f'(upsampling x{target / num:.2f} exceeds max_upsample '
                         f'{max_upsample})')
    pos = np.linspace(0, num - 1, target)
    lo = np.clip(np.floor(pos).astype(np.int64), 0, num - 2)
    w = (pos - lo).reshape(1, 1, -1, 1, 1)
    return ((1 - w) * amp[:, :, lo] + w * amp[:, :, lo + 1],
            (1 - w) * phase[:, :, lo] + w * phase[:, :, lo + 1])


def _map_antennas(x: np.ndarray, axis: int, target: int, fill: str, name: str,
                  source: str) -> np.ndarray:
    num = x.shape[axis]
    if num == target:
        return x
    if num > target:
        return np.take(x, np.arange(target), axis=axis)
    if fill == 'error':
        raise ValueError(f'{source}: {num} {name} antennas cannot map to the layout\'s '
                         f'{target}')
    out = np.take(x, np.arange(target) % num, axis=axis)
    if fill == 'zero':
        index = [slice(None)] * x.ndim
        index[axis] = slice(num, None)
        out[tuple(index)] = 0
    return out


def windows_to_layout(csi: np.ndarray,
                      layout: CSILayout,
                      subcarriers: str = 'interpolate',
                      max_upsample: float = 4.0,
                      antenna_fill: str = 'repeat',
                      amplitude: str = 'auto',
                      source: str = 'CSI') -> Tuple[np.ndarray, np.ndarray]:
    """Amplitude and phase of packet windows in a model layout.

    Subcarriers are resampled by linear interpolation of amplitude and
    (subcarrier-unwrapped) phase; extra antennas are dropped, missing ones
    repeated cyclically (``'repeat'``), zeroed (``'zero'``) or refused
    (``'error'``).

    Args:
        csi (np.ndarray): (F, P, S, R, T) complex windows.
        layout (CSILayout): Target layout (``P`` must match).
        subcarriers (str): ``'interpolate'`` or ``'exact'``.
        max_upsample (float): Largest subcarrier upsampling factor.
        antenna_fill (str): ``'repeat'``, ``'zero'`` or ``'error'``.
        amplitude (str): ``'linear'`` ``|h|``, ``'db'`` ``20 log10 |h|``, or
            ``'auto'``: dB for the ``mmfi`` layout (MM-Fi's ``CSIamp``,
            40.6 +- 4.0 on the real frames, matches the dB amplitude of the
            real Atheros capture, 41.7), linear otherwise (WiSPPN /
            Person-in-WiFi amplitudes are Intel 5300 ``|h|``, 1.4 to 168).
        source (str): Name used in error messages (e.g. the capture file).

    Returns:
        tuple: amplitude and wrapped phase, each (F, *layout.shape) float32.
    """
    if csi.ndim != 5:
        raise ValueError(f'{source}: expected (F, P, S, R, T) windows, got {csi.shape}')
    if csi.shape[1] != layout.num_packets:
        raise ValueError(f'{source}: windows of {csi.shape[1]} packets for a layout of '
                         f'{layout.num_packets}')
    if subcarriers not in ('interpolate', 'exact'):
        raise ValueError(f"subcarriers must be 'interpolate' or 'exact', got {subcarriers!r}")
    if amplitude not in ('linear', 'db', 'auto'):
        raise ValueError(f"amplitude must be 'linear', 'db' or 'auto', got {amplitude!r}")
    if amplitude == 'auto':
        amplitude = 'db' if layout.name == 'mmfi' else 'linear'
    amp = np.abs(csi).astype(np.float64)
    phase = np.unwrap(np.angle(csi).astype(np.float64), axis=2)
    amp, phase = _resample_subcarriers(amp, phase, layout.num_subcarriers, subcarriers,
                                       max_upsample, source)
    for axis, target, name in ((3, layout.num_rx, 'receive'), (4, layout.num_tx, 'transmit')):
        amp = _map_antennas(amp, axis, target, antenna_fill, name, source)
        phase = _map_antennas(phase, axis, target, antenna_fill, name, source)
    phase = np.angle(np.exp(1j * phase))
    if amplitude == 'db':
        amp = 20 * np.log10(np.maximum(amp, 1e-6))
    letters = 'psrt'  # axes 1..4 of (F, P, S, R, T)
    groups = list(layout.axes)
    order = [letters.index(c) + 1 for g in groups for c in g]
    rest = [i for i in range(1, 5) if i not in order]  # size-1 axes left out
    shape = (len(csi), ) + layout.shape
    return tuple(np.ascontiguousarray(x.transpose([0] + order + rest).reshape(shape),
                                      dtype=np.float32) for x in (amp, phase))


@dataclass
class CaptureFrames:
    """A capture cut into per-frame CSI in a model layout.

    Attributes:
        amplitude (np.ndarray): (F, *layout.shape) float32.
        phase (np.ndarray): (F, *layout.shape) float32, wrapped raw phase.
        windows (CSIWindows): The packet windows (frames, times, valid...).
        layout (CSILayout): The layout.
        num_frames (int): Frames asked for (kept + skipped).
        packet_rate (float): Median packet rate of the capture (Hz).
        num_timing_gaps (int): Packets missing from the timing gaps.
        null_subcarriers (int): Null subcarriers dropped before resampling.
    """

    amplitude: np.ndarray
    phase: np.ndarray
    windows: CSIWindows
    layout: CSILayout
    num_frames: int
    packet_rate: float
    num_timing_gaps: int
    null_subcarriers: int = 0


def capture_to_frames(capture,
                      layout: CSILayout,
                      fps: Optional[float] = None,
                      frame_times: Optional[np.ndarray] = None,
                      window: Optional[float] = None,
                      min_packets: Optional[int] = None,
                      fill: str = 'linear',
                      drop_null: bool = True,
                      **layout_kwargs) -> CaptureFrames:
    """Window a capture per frame and map every window to ``layout``.

    Args:
        capture (CSICapture): Packets (``timestamps``, ``csi``, ``path``).
        layout (CSILayout): Target layout (its ``num_packets`` per frame).
        fps (float, optional): Frame rate; frames then tile the capture
            from its first packet. When None and no ``frame_times``, the
            packet rate divided by ``P``.
        frame_times (np.ndarray, optional): Frame times on the capture's
            clock (window centres).
        window (float, optional): Window length; ``1 / fps`` or the median
            frame interval by default.
        min_packets (int, optional): See :func:`window_packets`.
        fill (str): See :func:`window_packets`.
        drop_null (bool): Drop null (mostly zero) subcarriers first.
        **layout_kwargs: Arguments of :func:`windows_to_layout`.

    Returns:
        CaptureFrames: The frames.

    Raises:
        ValueError: The capture has fewer packets than one window, or no
            frame window holds ``min_packets`` packets (naming the file).
    """
    times, csi, path = capture.timestamps, capture.csi, capture.path
    num = layout.num_packets
    if len(times) < num:
        raise ValueError(f'capture {path} has {len(times)} packets, fewer than one window '
                         f'of {num} packets')
    steps = np.diff(times)
    rate = 1.0 / float(np.median(steps)) if len(steps) and np.median(steps) > 0 else 0.0
    gaps, _ = count_dropped_packets(times)
    dropped_null = 0
    if drop_null:
        null = null_subcarriers(csi)
        if null.any() and not null.all():
            csi, dropped_null = csi[:, ~null], int(null.sum())
    if frame_times is None:
        if fps is None:
            if rate <= 0:
                raise ValueError(f'capture {path}: cannot derive a frame rate from its '
                                 'timestamps; give fps')
            fps = rate / num
        frame_times = frame_times_from_fps(times[0], times[-1], fps)
        window = 1.0 / fps if window is None else window
    frame_times = np.asarray(frame_times, np.float64)
    if len(frame_times) == 0:
        raise ValueError(f'capture {path}: no frame time inside the capture '
                         f'({times[-1] - times[0]:.3f} s)')
    if window is None and len(frame_times) < 2:
        window = num / rate if rate > 0 else None
    windows = window_packets(times, csi, frame_times, num, window=window,
                             min_packets=min_packets, fill=fill)
    if len(windows) == 0:
        raise ValueError(f'capture {path}: none of the {len(frame_times)} frame windows holds '
                         f'enough packets (min_packets={min_packets or math.ceil(num / 2)} of '
                         f'{num}); check the frame times / fps')
    amp, phase = windows_to_layout(windows.csi, layout, source=f'capture {path}',
                                   **layout_kwargs)
    return CaptureFrames(amp, phase, windows, layout, len(frame_times), rate, gaps,
                         dropped_null)
