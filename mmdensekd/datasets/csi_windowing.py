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
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmdensekd.structures.csi_layout import CSILayout

#: Frames skipped in a stream whose numbers are kept (the count is exact).
MAX_LISTED_SKIPS = 10000


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
    num = num_frames_until(t_start, t_end, fps)
    return t_start + (np.arange(max(num, 0)) + 0.5) / fps


def num_frames_until(t_start: float, t_end: float, fps: float) -> int:
    """Frames ``[t_start + k / fps, t_start + (k + 1) / fps)`` that end by
    ``t_end`` (the frame count rule of :func:`frame_times_from_fps`)."""
    return int(math.floor((t_end - t_start) * fps + 1e-9))


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


def window_one_frame(times: np.ndarray, csi: np.ndarray, centre: float, window: float,
                     num: int, min_packets: int, fill: str
                     ) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The ``num`` packets of the frame window ``[centre - window / 2, centre +
    window / 2)``: the rule of :func:`window_packets` for one frame, shared
    by the offline converter and :class:`StreamWindower`.

    ``times`` / ``csi`` need not hold the whole capture: the result is the
    same as on the whole capture as long as they hold every packet of the
    window, the last packet before it (if any) and the first packet at or
    after its end (if any), the neighbours a filled packet is interpolated
    from.

    Args:
        times (np.ndarray): (N,) increasing packet times (float64).
        csi (np.ndarray): (N, S, R, T) complex CSI.
        centre (float): Window centre.
        window (float): Window length.
        num (int): Packets per frame ``P``.
        min_packets (int): Fewer real packets skip the frame.
        fill (str): ``'linear'`` or ``'nearest'``.

    Returns:
        tuple | None: (P,) packet times, (P, S, R, T) CSI and (P,) bool
        ``valid`` (False for filled packets), or None for a skipped frame.
    """
    a = int(np.searchsorted(times, centre - window / 2, side='left'))
    b = int(np.searchsorted(times, centre + window / 2, side='left'))
    n = b - a
    if n < min_packets:
        return None
    if n >= num:
        idx = a + np.round(np.linspace(0, n - 1, num)).astype(np.int64)
        return times[idx], csi[idx], np.ones(num, bool)
    extra = _fill_times(times[a:b], centre - window / 2, centre + window / 2, num - n)
    win_t = np.concatenate([times[a:b], extra])
    order = np.argsort(win_t, kind='stable')
    win_csi = np.concatenate([csi[a:b], _interpolate(times, csi, extra, fill)])[order]
    valid = np.concatenate([np.ones(n, bool), np.zeros(num - n, bool)])[order]
    return win_t[order], win_csi, valid


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
    kept, out_csi, out_t, out_valid, skipped, filled = [], [], [], [], [], 0
    for k, c in enumerate(frame_times):
        one = window_one_frame(times, csi, float(c), window, num, min_packets, fill)
        if one is None:
            skipped.append(k)
            continue
        kept.append(k)
        out_t.append(one[0])
        out_csi.append(one[1])
        out_valid.append(one[2])
        filled += int(num - one[2].sum())
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


def _null_mask(csi: np.ndarray, drop_null: bool) -> Optional[np.ndarray]:
    """Subcarriers to keep (None: all): the null ones unless all are null."""
    if not drop_null or len(csi) == 0:
        return None
    null = null_subcarriers(csi)
    return ~null if null.any() and not null.all() else None


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
    keep = _null_mask(csi, drop_null)
    if keep is not None:
        csi, dropped_null = csi[:, keep], int((~keep).sum())
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


@dataclass
class StreamFrame:
    """One frame cut from a packet stream by :class:`StreamWindower`.

    Attributes:
        index (int): Frame number (from 0) since the stream started; the
            offline converter writes frame ``index + 1``.
        time (float): Window centre on the capture clock.
        amplitude (np.ndarray): ``layout.shape`` float32.
        phase (np.ndarray): ``layout.shape`` float32, wrapped raw phase.
        packet_times (np.ndarray): (P,) packet times.
        valid (np.ndarray): (P,) bool, False for filled packets.
        arrival (float): Host clock (``time.perf_counter``) at which the
            newest packet of the window arrived, for latency figures.
    """

    index: int
    time: float
    amplitude: np.ndarray
    phase: np.ndarray
    packet_times: np.ndarray
    valid: np.ndarray
    arrival: float = 0.0

    @property
    def num_filled(self) -> int:
        return int((~self.valid).sum())


class StreamWindower:
    """Cut a live packet stream into frames with the rules of
    :func:`capture_to_frames`.

    Frame ``k`` is centred at ``t0 + (k + 0.5) / fps`` (``t0``: the first
    packet), its window ``window`` long (``1 / fps`` by default); it is
    emitted as soon as a packet at or after the window's end arrives, and
    windowed by :func:`window_one_frame`, the function the offline converter
    uses: ``P`` packets spread by index, missing ones filled and flagged,
    frames with fewer than ``min_packets`` real packets skipped and counted.
    :meth:`flush` at the end of a stream emits the frames the offline rule
    still counts. On a finished capture the frames therefore equal the
    offline converter's for the same ``fps`` / ``window``, with two inputs
    fixed from the first ``warmup_packets`` packets instead of the whole
    file: the null subcarriers (guard / DC tones, zero in every packet of
    real hardware) and, when ``fps`` is None, the packet rate.

    Live-only rules (counted in :attr:`counts`): a packet earlier than its
    predecessor is dropped (``'backwards'``); a jump back by more than
    ``reset_back`` seconds or forward by more than ``max_gap`` seconds (a
    rebooted device, a new clock) flushes the frames so far and restarts
    the frame grid at that packet (``'clock_resets'``).

    Args:
        layout (CSILayout): Target layout (``P = layout.num_packets``).
        fps (float, optional): Frame rate; None: packet rate / ``P`` of the
            warm-up packets.
        window (float, optional): Window length; ``1 / fps`` by default.
        min_packets (int, optional): Defaults to ``ceil(P / 2)``.
        fill (str): ``'linear'`` or ``'nearest'``.
        drop_null (bool): Drop null subcarriers.
        warmup_packets (int): Packets buffered before the first frame.
        reset_back (float): Backward jump (s) that restarts the grid.
        max_gap (float): Forward jump (s) that restarts the grid.
        source (str): Name used in messages.
        **layout_kwargs: Arguments of :func:`windows_to_layout`.
    """

    def __init__(self,
                 layout: CSILayout,
                 fps: Optional[float] = None,
                 window: Optional[float] = None,
                 min_packets: Optional[int] = None,
                 fill: str = 'linear',
                 drop_null: bool = True,
                 warmup_packets: int = 20,
                 reset_back: float = 1.0,
                 max_gap: float = 60.0,
                 source: str = 'CSI stream',
                 **layout_kwargs) -> None:
        num = layout.num_packets
        self.min_packets = int(math.ceil(num / 2)) if min_packets is None else int(min_packets)
        if not 1 <= self.min_packets <= num:
            raise ValueError(f'min_packets must be in [1, {num}], got {min_packets}')
        if fill not in ('linear', 'nearest'):
            raise ValueError(f"fill must be 'linear' or 'nearest', got {fill!r}")
        if fps is not None and fps <= 0:
            raise ValueError(f'fps must be positive, got {fps}')
        if window is not None and window <= 0:
            raise ValueError(f'window must be positive, got {window}')
        self.layout, self.fps, self.window, self.fill = layout, fps, window, fill
        self.drop_null, self.warmup = drop_null, max(int(warmup_packets), 2)
        self.reset_back, self.max_gap, self.source = reset_back, max_gap, source
        self.layout_kwargs = layout_kwargs
        self.keep: Optional[np.ndarray] = None  # subcarriers kept (None: all)
        self.ready = False
        self.counts: Dict[str, int] = dict(packets=0, frames=0, skipped_frames=0,
                                           filled_packets=0, backwards=0, clock_resets=0,
                                           shape_changes=0)
        self.skipped: List[int] = []
        self._base = 0  # frame numbers used by earlier clock epochs
        self._restart()

    def _restart(self) -> None:
        self._t: List[float] = []
        self._c: List[np.ndarray] = []
        self._a: List[float] = []
        self._t0: Optional[float] = None
        self._next = 0

    @property
    def packet_rate(self) -> float:
        """Packets per second the frame rate was derived from (0 if unknown)."""
        return self.fps * self.layout.num_packets if self.fps else 0.0

    def _setup(self) -> bool:
        """Fix the null subcarriers (and fps) from the buffered packets."""
        times = np.asarray(self._t)
        if self.fps is None:
            steps = np.diff(times)
            if len(steps) == 0 or np.median(steps) <= 0:
                return False
            self.fps = 1.0 / float(np.median(steps)) / self.layout.num_packets
        if self.window is None:
            self.window = 1.0 / self.fps
        self.keep = _null_mask(np.stack(self._c), self.drop_null)
        self.ready = True
        return True

    def push(self, t: float, csi: np.ndarray, arrival: float = 0.0) -> List[StreamFrame]:
        """Add one packet (time on the capture clock, (S, R, T) CSI).

        Returns:
            list[StreamFrame]: Frames whose window this packet closed.
        """
        out: List[StreamFrame] = []
        t = float(t)
        if self._t:
            last = self._t[-1]
            if t < last - self.reset_back or t > last + self.max_gap:
                out = self.flush()
                self.counts['clock_resets'] += 1
                self._base += (self._next if self._t0 is not None else 0)
                self._restart()
            elif t < last:
                self.counts['backwards'] += 1
                return out
            elif self._c and np.shape(csi) != self._c[-1].shape:
                self.counts['shape_changes'] += 1
                return out
        if self._t0 is None:
            self._t0 = t
        self._t.append(t)
        self._c.append(np.asarray(csi, np.complex64))
        self._a.append(float(arrival))
        self.counts['packets'] += 1
        if not self.ready and (len(self._t) < self.warmup or not self._setup()):
            return out
        return out + self._emit(final=False)

    def flush(self) -> List[StreamFrame]:
        """Emit the frames a finished capture still holds (end of stream)."""
        if not self._t or (not self.ready and not self._setup()):
            return []
        return self._emit(final=True)

    def _emit(self, final: bool) -> List[StreamFrame]:
        t_last, fps, half = self._t[-1], self.fps, self.window / 2
        limit = num_frames_until(self._t0, t_last, fps)
        first = self._t0 + (self._next + 0.5) / fps
        if self._next >= limit or (not final and t_last < first + half):
            return []
        times = np.asarray(self._t, np.float64)
        csi = np.stack(self._c)
        out = []
        num = self.layout.num_packets
        while self._next < limit:
            k = self._next
            centre = self._t0 + (k + 0.5) / fps
            if not final and t_last < centre + half:
                break
            self._next += 1
            one = window_one_frame(times, csi, centre, self.window, num, self.min_packets,
                                   self.fill)
            if one is None:
                self.counts['skipped_frames'] += 1
                if len(self.skipped) < MAX_LISTED_SKIPS:
                    self.skipped.append(self._base + k)
                continue
            win_t, win_csi, valid = one
            if self.keep is not None:
                win_csi = win_csi[:, self.keep]
            amp, phase = windows_to_layout(win_csi[None].astype(np.complex64), self.layout,
                                           source=self.source, **self.layout_kwargs)
            last = int(np.searchsorted(times, centre + half, side='left')) - 1
            self.counts['frames'] += 1
            self.counts['filled_packets'] += int(num - valid.sum())
            out.append(StreamFrame(self._base + k, centre, amp[0], phase[0], win_t, valid,
                                   self._a[last]))
        # keep the packets later windows need, and the one before them
        nxt = self._t0 + (self._next + 0.5) / fps - half
        cut = max(int(np.searchsorted(times, nxt, side='left')) - 1, 0)
        if cut:
            del self._t[:cut], self._c[:cut], self._a[:cut]
        return out
