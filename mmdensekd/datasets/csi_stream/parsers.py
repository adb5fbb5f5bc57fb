# Copyright (c) mmdensekd contributors. All rights reserved.
"""Payload parsers: ESP32-CSI-Tool lines, Linux 802.11n CSI Tool records and
nexmon_csi UDP payloads (the last two through csiread's real-time ``pmsg``)."""
import struct
from typing import Callable, Dict, Tuple

import numpy as np

from .packets import ESP32_FIELDS, ESP32_TIME_FIELD, PacketError


def parse_esp32_line(line: str) -> Tuple[int, np.ndarray]:
    """Parse one ESP32-CSI-Tool ``CSI_DATA`` line.

    The CSI array holds (imaginary, real) pairs per subcarrier, as csiread
    reads them.

    Returns:
        tuple: ``local_timestamp`` (microseconds, 32-bit counter) and (S, 1,
        1) complex64 CSI.

    Raises:
        PacketError: Not a CSI line (``'non_csi_lines'``) or a malformed one
            (``'malformed_lines'``; e.g. a line cut in the middle).
    """
    line = line.strip()
    if not line.startswith('CSI_DATA'):
        raise PacketError('non_csi_lines', f'not a CSI_DATA line: {line[:40]!r}')
    if line.count('CSI_DATA') > 1:
        raise PacketError('malformed_lines', 'line cut in the middle (a second CSI_DATA '
                          f'starts inside it): {line[:40]!r}...')
    if '[' not in line or not line.endswith(']'):
        raise PacketError('malformed_lines', f'line cut in the middle (no complete CSI '
                          f'array): ...{line[-40:]!r}')
    head, body = line.split('[', 1)
    fields = head.rstrip(',').split(',')
    if len(fields) != ESP32_FIELDS:
        raise PacketError('malformed_lines', f'{len(fields)} fields before the CSI array, '
                          f'expected {ESP32_FIELDS}: {line[:40]!r}')
    try:
        stamp = int(fields[ESP32_TIME_FIELD])
        values = np.array(body[:-1].split(), dtype=np.int64)
    except ValueError as err:
        raise PacketError('malformed_lines', f'bad number ({err}): {line[:40]!r}') from None
    if len(values) == 0 or len(values) % 2:
        raise PacketError('malformed_lines', f'CSI array of {len(values)} values (expected '
                          'a positive even count)')
    csi = (values[1::2] + values[::2] * 1j).astype(np.complex64)
    return stamp, csi[:, None, None]


def check_intel_record(rec: bytes) -> Tuple[int, int]:
    """Validate one Linux 802.11n CSI Tool beamforming record (code byte +
    body, without the 2-byte length); returns (Nrx, Ntx).

    csiread's parser trusts its input, so nothing reaches it unchecked.

    Raises:
        PacketError: ``'non_csi_records'`` for other codes, else
            ``'malformed_records'``.
    """
    if not rec:
        raise PacketError('malformed_records', 'empty record')
    if rec[0] != 0xbb:
        raise PacketError('non_csi_records', f'record code 0x{rec[0]:02x} (not 0xbb CSI)')
    if len(rec) < 21:
        raise PacketError('malformed_records', f'CSI record of {len(rec)} bytes')
    nrx, ntx = rec[9], rec[10]
    length = struct.unpack('<H', rec[17:19])[0]
    expected = (30 * (nrx * ntx * 16 + 3) + 7) // 8
    if not (1 <= nrx <= 3 and 1 <= ntx <= 3) or length != expected or len(rec) < 21 + length:
        raise PacketError('malformed_records', f'CSI record: Nrx={nrx}, Ntx={ntx}, CSI length '
                          f'{length} (expected {expected}), {len(rec)} bytes')
    return nrx, ntx


class _Parsers:
    """csiread real-time parsers (``pmsg``), one per configuration."""

    def __init__(self, chip: str = '4358') -> None:
        self.chip = chip
        self._cache: Dict[tuple, object] = {}

    def _get(self, key: tuple, make: Callable):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def intel(self, rec: bytes) -> Tuple[int, np.ndarray]:
        """(timestamp_low, (30, Nrx, Ntx) complex64) of a checked record."""
        import csiread
        nrx, ntx = check_intel_record(rec)
        parser = self._get(('intel', ), lambda: csiread.Intel(None, nrxnum=3, ntxnum=3,
                                                             if_report=False))
        if parser.pmsg(rec) != 0xbb:
            raise PacketError('malformed_records', 'csiread did not parse the CSI record')
        return int(parser.timestamp_low[0]), \
            np.asarray(parser.csi[0, :, :nrx, :ntx], np.complex64)

    def nexmon(self, payload: bytes) -> np.ndarray:
        """(Nsub, 1, 1) complex64 CSI of a nexmon_csi UDP payload."""
        import csiread
        if payload[:4] == b'\x11\x11\x11\x11':
            kind = 'Nexmon'
        elif payload[:2] == b'\x11\x11':
            kind = 'NexmonPull46'
        else:
            raise PacketError('malformed_datagrams', f'{len(payload)}-byte datagram without '
                              f'the nexmon_csi magic 0x1111 (starts {payload[:4].hex()})')
        nsub, rest = divmod(len(payload) - 18, 4)
        if rest or nsub not in (64, 128, 256):
            raise PacketError('malformed_datagrams', f'nexmon_csi payload of {len(payload)} '
                              'bytes: not 18 + 4 * (64|128|256) (20/40/80 MHz)')
        bw = nsub * 20 // 64
        parser = self._get((kind, bw), lambda: getattr(csiread, kind)(
            None, chip=self.chip, bw=bw, if_report=False))
        if parser.pmsg(payload) != 0xf100:
            raise PacketError('malformed_datagrams', 'csiread did not parse the nexmon payload')
        return np.asarray(parser.csi[0], np.complex64)[:, None, None]
