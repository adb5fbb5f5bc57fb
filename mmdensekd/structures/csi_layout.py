# Copyright (c) mmdensekd contributors. All rights reserved.
"""The one description of how a model sees one frame of CSI.

Everything that reads, simulates, windows, normalises or feeds CSI to a
model takes its shape from a :class:`CSILayout`: the simulator
(:mod:`mmdensekd.simulation.wifi_channel`), the capture windowing
(:mod:`mmdensekd.datasets.csi_windowing`), the paired datasets, the phase
sanitiser's arguments, the MTN configs, the benchmark and the demos.

Shape legend: ``P`` packets per frame, ``S`` subcarriers, ``T`` transmit
and ``R`` receive antennas, ``L`` links (receivers of one transmitter at
different places, as in Person-in-WiFi 3D). ``axes`` groups these letters
(``'p' 's' 't' 'r' 'l'``); letters in one group are merged in that order and a
letter of size 1 may be left out. The per-frame amplitude / phase array has
shape :attr:`CSILayout.shape`.

Named layouts (:data:`CSI_LAYOUTS`):

* ``person-in-wifi``: ``(P * S, T, R) = (150, 3, 3)``, 2.4 GHz, the 30
  subcarriers an Intel 5300 reports, 3 x 3 antennas, 5 packets (DensePose
  From WiFi / Person-in-WiFi; the WiSPPN ``csi_serial`` order);
* ``mmfi``: ``(R, S, P) = (3, 114, 10)``, 5 GHz HT40 (114 data
  subcarriers), one transmit antenna (MM-Fi);
* ``person-in-wifi-3d``: ``(L, P * S, R) = (3, 150, 3)``, one transmit
  antenna and three receivers of three antennas around the area
  (Person-in-WiFi 3D);
* ``person-in-wifi-4w`` / ``person-in-wifi-3d-4w``: the above with the
  packets of 4 consecutive frame windows (``P = 20``, oldest first).
"""
import math
from dataclasses import dataclass, replace
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

#: Speed of light (m/s).
SPEED_OF_LIGHT = 299792458.0
#: OFDM subcarrier spacing of 802.11n (Hz).
SUBCARRIER_SPACING = 312.5e3
#: The 30 subcarrier indices reported by the Intel 5300 (20 MHz grouping).
INTEL_5300_SUBCARRIERS = (-28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, -2, -1,
                          1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 28)
#: The 114 data subcarriers of a 40 MHz 802.11n channel (MM-Fi).
HT40_SUBCARRIERS = tuple(list(range(-58, -1)) + list(range(2, 59)))

_LETTERS = 'pstrl'


@dataclass(frozen=True)
class CSILayout:
    """Per-frame CSI layout: sizes, axis order and radio.

    Attributes:
        name (str): Layout name.
        num_packets (int): ``P``.
        num_subcarriers (int): ``S``.
        num_tx (int): ``T``.
        num_rx (int): ``R``.
        axes (tuple[str]): Output axes as groups of ``'p' 's' 't' 'r' 'l'``.
        carrier_hz (float): Centre frequency. Defaults to 2.437e9 (channel 6).
        subcarriers (tuple[int], optional): Reported subcarrier indices
            (``S`` of them); None: ``S`` evenly spread over the 20 MHz band.
        num_links (int): ``L``. Defaults to 1.
    """

    name: str
    num_packets: int
    num_subcarriers: int
    num_tx: int
    num_rx: int
    axes: Tuple[str, ...]
    carrier_hz: float = 2.437e9
    subcarriers: Optional[Tuple[int, ...]] = None
    num_links: int = 1

    def __post_init__(self) -> None:
        sizes = self.sizes
        if min(sizes.values()) < 1:
            raise ValueError(f'layout {self.name!r}: sizes must be >= 1, got {sizes}')
        letters = ''.join(self.axes)
        if len(letters) != len(set(letters)) or not set(letters) <= set(_LETTERS):
            raise ValueError(f'layout {self.name!r}: axes {self.axes} must use each of '
                             f'{list(_LETTERS)} at most once')
        missing = [c for c in _LETTERS if c not in letters and sizes[c] != 1]
        if missing:
            raise ValueError(f'layout {self.name!r}: axes {self.axes} leave out {missing} '
                             'whose size is not 1')
        if self.subcarriers is not None and len(self.subcarriers) != self.num_subcarriers:
            raise ValueError(f'layout {self.name!r}: {len(self.subcarriers)} subcarrier '
                             f'indices for {self.num_subcarriers} subcarriers')

    # ------------------------------------------------------------ shapes
    @property
    def sizes(self) -> Dict[str, int]:
        return dict(p=self.num_packets, s=self.num_subcarriers, t=self.num_tx,
                    r=self.num_rx, l=self.num_links)

    @property
    def shape(self) -> Tuple[int, ...]:
        """Per-frame amplitude / phase shape."""
        sizes = self.sizes
        return tuple(math.prod(sizes[c] for c in group) for group in self.axes)

    @property
    def letters(self) -> str:
        """The axis letters in output order, groups expanded."""
        return ''.join(self.axes)

    def with_packets(self, num_packets: int) -> 'CSILayout':
        """The same layout with ``P = num_packets``."""
        return replace(self, num_packets=int(num_packets))

    # ------------------------------------------------------------- radio
    @property
    def subcarrier_indices(self) -> np.ndarray:
        """(S,) subcarrier indices (evenly spread over +-28 when not given)."""
        if self.subcarriers is not None:
            return np.asarray(self.subcarriers, float)
        return np.linspace(-28, 28, self.num_subcarriers)

    @property
    def freqs(self) -> np.ndarray:
        """(S,) subcarrier frequencies in Hz."""
        return self.carrier_hz + self.subcarrier_indices * SUBCARRIER_SPACING

    @property
    def wavelength(self) -> float:
        """Carrier wavelength in metres."""
        return SPEED_OF_LIGHT / self.carrier_hz

    # ------------------------------------------------------ conversions
    def to_file(self, csi: np.ndarray) -> np.ndarray:
        """Complex CSI ``(P, S, T, R)`` (or ``(L, P, S, T, R)``) -> :attr:`shape`.

        Letters of size 1 that :attr:`axes` leaves out are dropped.
        """
        csi = np.asarray(csi)
        if csi.ndim == 4:
            csi = csi[None]
        expect = (self.num_links, self.num_packets, self.num_subcarriers, self.num_tx,
                  self.num_rx)
        if csi.shape != expect:
            raise ValueError(f'layout {self.name!r}: CSI of shape {csi.shape}, expected '
                             f'(L, P, S, T, R) = {expect}')
        src = 'lpstr'
        order = [src.index(c) for c in self.letters]
        dropped = [src.index(c) for c in src if c not in self.letters]
        csi = csi.transpose(order + dropped).reshape(
            [csi.shape[i] for i in order] + [1] * len(dropped))
        csi = csi.reshape(csi.shape[:len(order)])
        return np.ascontiguousarray(csi.reshape(self.shape))

    def from_file(self, arr: np.ndarray) -> np.ndarray:
        """:attr:`shape` -> ``(L, P, S, T, R)`` (a view where numpy can):
        the inverse of :meth:`to_file`, for complex CSI or its amplitude or
        phase alike.
        """
        arr = np.asarray(arr)
        if arr.shape != self.shape:
            raise ValueError(f'layout {self.name!r}: array of shape {arr.shape}, expected '
                             f'{self.shape}')
        letters = self.letters
        missing = ''.join(c for c in 'lpstr' if c not in letters)
        arr = arr.reshape([self.sizes[c] for c in letters] + [1] * len(missing))
        return arr.transpose([(letters + missing).index(c) for c in 'lpstr'])

    def sanitize_kwargs(self) -> dict:
        """``CSIPhaseSanitize`` arguments for a phase array of this layout.

        The sanitiser views the phase with merged groups split
        (``view_shape``) and filters along the subcarrier and packet axes.
        """
        letters = self.letters
        kwargs = dict(subcarrier_axis=letters.index('s'),
                      packet_axis=letters.index('p') if 'p' in letters else None)
        if any(len(group) > 1 for group in self.axes):
            kwargs['view_shape'] = tuple(self.sizes[c] for c in letters)
        return kwargs


CSI_LAYOUTS: Dict[str, CSILayout] = {
    # DensePose From WiFi (Geng et al. 2022) / Person-in-WiFi (Wang et al. 2019):
    # one 3x3 link of Intel 5300 NICs at 2.4 GHz, 5 packets per video frame.
    'person-in-wifi': CSILayout('person-in-wifi', 5, 30, 3, 3, ('ps', 't', 'r'),
                                carrier_hz=2.437e9, subcarriers=INTEL_5300_SUBCARRIERS),
    # MM-Fi (Yang et al. 2023): 1 x 3 antennas, 5 GHz HT40, 114 subcarriers, 10 packets.
    'mmfi': CSILayout('mmfi', 10, 114, 1, 3, ('r', 's', 'p'), carrier_hz=5.19e9,
                      subcarriers=HT40_SUBCARRIERS),
    # Person-in-WiFi 3D (Yan et al. CVPR 2024): one transmitter and three
    # receivers of three antennas each placed around the area (the links axis
    # ``l``); the radio stays the Intel 5300's (30 subcarriers, 5 packets per
    # frame) at 2.4 GHz as in the default layout, so only the geometry changes.
    'person-in-wifi-3d': CSILayout('person-in-wifi-3d', 5, 30, 1, 3, ('l', 'ps', 'r'),
                                   carrier_hz=2.437e9, subcarriers=INTEL_5300_SUBCARRIERS,
                                   num_links=3),
    # temporal context: the default link with the packets of 4 consecutive
    # frame windows (4 x 5 packets, oldest first), as WiFi pose systems feed a
    # short CSI sequence; written by the simulation's sequence mode (4 windows)
    'person-in-wifi-4w': CSILayout('person-in-wifi-4w', 20, 30, 3, 3, ('ps', 't', 'r'),
                                   carrier_hz=2.437e9, subcarriers=INTEL_5300_SUBCARRIERS),
    # both: three receivers and 4 windows of 5 packets
    'person-in-wifi-3d-4w': CSILayout('person-in-wifi-3d-4w', 20, 30, 1, 3, ('l', 'ps', 'r'),
                                      carrier_hz=2.437e9, subcarriers=INTEL_5300_SUBCARRIERS,
                                      num_links=3),
}


def parse_layout(spec, packets_per_frame: Optional[int] = None) -> CSILayout:
    """A layout from its name, an ``'AXES:P,S,T,R'`` spec, a dict or a layout.

    Args:
        spec (str | dict | CSILayout): ``'person-in-wifi'``, ``'mmfi'``, e.g.
            ``'ps,t,r:5,30,3,3'`` (``'AXES:P,S,T,R[,L]'``), or the keyword
            arguments of :class:`CSILayout` (a config's ``dict(...)``).
        packets_per_frame (int, optional): Overrides ``P``.

    Returns:
        CSILayout: The layout.
    """
    if isinstance(spec, CSILayout):
        layout = spec
    elif isinstance(spec, dict):
        kwargs = dict(spec)
        base = kwargs.pop('base', None)
        try:
            if base is not None:
                layout = replace(parse_layout(base), **kwargs)
            else:
                kwargs['axes'] = tuple(kwargs['axes'])
                if kwargs.get('subcarriers') is not None:
                    kwargs['subcarriers'] = tuple(kwargs['subcarriers'])
                layout = CSILayout(**kwargs)
        except (TypeError, KeyError) as err:
            raise ValueError(f'bad CSI layout {spec!r}: {err}') from err
    elif spec in CSI_LAYOUTS:
        layout = CSI_LAYOUTS[spec]
    else:
        try:
            axes, sizes = str(spec).split(':')
            values = [int(v) for v in sizes.split(',')]
            if len(values) not in (4, 5):
                raise ValueError('need P,S,T,R or P,S,T,R,L')
            layout = CSILayout(str(spec), *values[:4],
                               tuple(a.strip() for a in axes.split(',')),
                               num_links=values[4] if len(values) == 5 else 1)
        except (ValueError, TypeError) as err:
            raise ValueError(f'unknown CSI layout {spec!r}: expected one of '
                             f"{sorted(CSI_LAYOUTS)} or 'AXES:P,S,T,R' such as "
                             f"'ps,t,r:5,30,3,3' ({err})") from err
    if packets_per_frame is not None:
        layout = layout.with_packets(packets_per_frame)
    return layout


def layout_from_shape(shape: Sequence[int]) -> CSILayout:
    """The named layout whose per-frame shape is ``shape`` (e.g. an MTN's ``amp_shape``)."""
    for layout in CSI_LAYOUTS.values():
        if tuple(shape) == layout.shape:
            return layout
    raise ValueError(f'no named CSI layout has shape {tuple(shape)}; known: '
                     f'{ {k: v.shape for k, v in CSI_LAYOUTS.items()} }')
