# Copyright (c) mmdensekd contributors. All rights reserved.
"""Read raw CSI captures of commodity WiFi NICs with ``csiread``.

Formats (``csiread`` class, file kind):

* ``intel5300``: Linux 802.11n CSI Tool, binary ``.dat`` (``csiread.Intel``);
* ``atheros``: Atheros CSI Tool, binary ``.dat`` (``csiread.Atheros``);
* ``nexmon``: nexmon_csi, libpcap ``.pcap`` (``csiread.Nexmon``);
* ``esp32``: ESP32-CSI-Tool, text ``.csv`` (``csiread.ESP32``);
* ``picoscenes``: PicoScenes, binary ``.csi`` (``csiread.Picoscenes``).

``csiread``'s compiled parsers trust their input (an Intel parser run on an
Atheros file crashes the interpreter), so every binary file is first walked
record by record here: a wrong format, an empty file or a truncated last
record is reported with the file name, the packet index and the byte offset
before ``csiread`` ever sees the file.

Shape legend: ``N`` packets, ``S`` subcarriers, ``R`` receive antennas,
``T`` transmit antennas (space-time streams).
"""
import logging
import os
import os.path as osp
import struct
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple, Union

import numpy as np
from mmengine.logging import print_log

CAPTURE_FORMATS = ('intel5300', 'atheros', 'nexmon', 'esp32', 'picoscenes')
#: Packets whose timestamps jump back by more than half the counter period
#: are counter wraps; smaller backward steps are errors (or dropped).
NIC_CLOCK_PERIOD_US = 2**32
_PCAP_MAGICS = {b'\xd4\xc3\xb2\xa1': '<', b'\xa1\xb2\xc3\xd4': '>', b'\x4d\x3c\xb2\xa1': '<',
                b'\xa1\xb2\x3c\x4d': '>'}
#: Bytes of a file's start that format detection walks.
_DETECT_BYTES = 1 << 16
_ATHEROS_HEADER = 25  # bytes of an Atheros record after its 2-byte length
#: PicoScenes frames: uint32 length (of the rest), uint32 magic, uint16 version.
_PICOSCENES_MAGIC = struct.pack('<I', 0x20150315)
#: PicoScenes front ends (``DeviceType`` of a frame) -> (name, seconds per
#: timestamp tick). Commodity NICs stamp frames with their microsecond clock;
#: the SDR front ends stamp them with the host's clock in nanoseconds (the
#: USRP N210 sample of csiread holds Unix-epoch nanoseconds of 2021-04-02).
PICOSCENES_DEVICES = {
    0x9300: ('QCA9300', 1e-6),
    0x5300: ('IWL5300', 1e-6),
    0x2000: ('IWLMVM_AX200', 1e-6),
    0x2100: ('IWLMVM_AX210', 1e-6),
    0x0802: ('MAC80211Compatible', 1e-6),
    0x1234: ('USRP', 1e-9),
    0x1000: ('VirtualSDR', 1e-9),
}


@dataclass
class CSICapture:
    """Per-packet CSI of one capture file.

    Attributes:
        path (str): The capture file.
        format (str): One of :data:`CAPTURE_FORMATS`.
        csi (np.ndarray): (N, S, R, T) complex64 CSI; antennas a packet did
            not use are zero.
        timestamps (np.ndarray): (N,) float64 seconds on the capture's clock
            (the NIC's microsecond counter unwrapped across its wraps, or the
            pcap time for nexmon).
        nrx (np.ndarray): (N,) receive antennas used by each packet.
        ntx (np.ndarray): (N,) transmit antennas / streams of each packet.
        rssi (np.ndarray): (N, C) float32 per-chain RSSI in dB (C = 0 when
            the format has none).
        packet_index (np.ndarray): (N,) index of each kept packet in the file.
        num_wraps (int): Clock wraps unwrapped.
        num_dropped (int): Packets lost before the file, where the format
            counts them (Intel ``bfee_count`` gaps), else 0.
        removed (dict): Reason (``'antennas'``, ``'backwards'``) -> number
            of packets removed here.
        subcarriers (np.ndarray, optional): (S,) subcarrier indices of the
            CSI's tone axis where the format reports them (PicoScenes).
        num_resampled (int): Packets whose CSI was interpolated onto
            ``subcarriers`` because they reported another tone set
            (PicoScenes SDR captures mix 52- and 56-tone frames).
        device (str): The front end where the format says (PicoScenes
            ``DeviceType``), else the format.
    """

    path: str
    format: str
    csi: np.ndarray
    timestamps: np.ndarray
    nrx: np.ndarray
    ntx: np.ndarray
    rssi: np.ndarray
    packet_index: np.ndarray
    num_wraps: int = 0
    num_dropped: int = 0
    removed: Dict[str, int] = field(default_factory=dict)
    subcarriers: Optional[np.ndarray] = None
    num_resampled: int = 0
    device: str = ''

    def __len__(self) -> int:
        return len(self.csi)

    def select(self, keep: np.ndarray) -> 'CSICapture':
        """A copy holding only the packets where ``keep`` (bool (N,)) is set."""
        return CSICapture(self.path, self.format, self.csi[keep], self.timestamps[keep],
                          self.nrx[keep], self.ntx[keep], self.rssi[keep],
                          self.packet_index[keep], self.num_wraps, self.num_dropped,
                          dict(self.removed), self.subcarriers, self.num_resampled,
                          self.device)


def unwrap_timestamps(raw: np.ndarray, period: Optional[int] = NIC_CLOCK_PERIOD_US
                      ) -> Tuple[np.ndarray, int]:
    """Unwrap a wrapping counter (e.g. the 32-bit microsecond NIC clock).

    A step back by more than ``period / 2`` is a wrap and adds ``period`` to
    every later value; smaller backward steps are kept (see
    :func:`find_backward_steps`).

    Args:
        raw (np.ndarray): (N,) counter values.
        period (int, optional): Counter period; None for a non-wrapping
            counter.

    Returns:
        tuple: (N,) int64 unwrapped values and the number of wraps.
    """
    values = np.asarray(raw).astype(np.int64)
    if period is None or len(values) < 2:
        return values, 0
    steps = np.diff(values)
    wraps = np.concatenate([[0], np.cumsum(steps < -(period // 2))])
    return values + wraps * int(period), int(wraps[-1])


def find_backward_steps(times: np.ndarray) -> np.ndarray:
    """Indices ``i`` of the packets whose time is before packet ``i - 1``'s."""
    return np.nonzero(np.diff(np.asarray(times)) < 0)[0] + 1


def detect_format(path: str) -> str:
    """Guess a capture's format from its content, else its extension.

    Args:
        path (str): Capture file.

    Returns:
        str: One of :data:`CAPTURE_FORMATS`; a ValueError when neither the
        content nor the extension is recognised.
    """
    with open(path, 'rb') as f:
        block = f.read(_DETECT_BYTES)
    head = block[:64]
    if head[:4] in _PCAP_MAGICS:
        return 'nexmon'
    if head[4:8] == _PICOSCENES_MAGIC:
        return 'picoscenes'
    if head.startswith(b'CSI_DATA') or b'CSI_DATA' in head[:64]:
        return 'esp32'
    if _looks_intel(block):
        return 'intel5300'
    if len(head) >= 27:
        for order in ('<', '>'):
            flen = struct.unpack(order + 'H', head[:2])[0]
            csi_len, = struct.unpack(order + 'H', head[10:12])
            tones = head[18]
            if tones in (56, 114) and csi_len > 0 and flen >= _ATHEROS_HEADER + csi_len:
                return 'atheros'
    ext = osp.splitext(path)[1].lower()
    if ext == '.csi':
        return 'picoscenes'
    raise ValueError(f'cannot detect the CSI capture format of {path} (first bytes '
                     f'{head[:8].hex()}); pass one of {CAPTURE_FORMATS} explicitly')


def _looks_intel(block: bytes) -> bool:
    """Whether ``block`` (a file's start) is a Linux 802.11n CSI Tool chain.

    The records are walked from the first byte: every record must carry a
    known code (0xbb CSI, 0xc1 other netlink messages, which a capture may
    start with) and at least one CSI record must have the CSI length its
    antenna counts imply.
    """
    pos, seen_csi = 0, False
    for _ in range(64):
        if pos + 3 > len(block):
            break
        flen = struct.unpack('>H', block[pos:pos + 2])[0]
        code = block[pos + 2]
        if code not in (0xbb, 0xc1) or flen == 0:
            return False
        if code == 0xbb and pos + 21 <= len(block):
            nrx, ntx = block[pos + 11], block[pos + 12]
            length = struct.unpack('<H', block[pos + 19:pos + 21])[0]
            if not (1 <= nrx <= 3 and 1 <= ntx <= 3) or \
                    length != (30 * (nrx * ntx * 16 + 3) + 7) // 8:
                return False
            seen_csi = True
        pos += 2 + flen
    return seen_csi


def _walk_intel(path: str, buf: bytes) -> Tuple[int, int, int, dict]:
    """Check the record chain of a Linux 802.11n CSI Tool file.

    Returns:
        tuple: (packets, valid bytes, bytes the truncated last record needs,
        csiread arguments); valid bytes is less than the file size when the
        last record is truncated. The other walkers return the same.
    """
    pos, count, max_rx, max_tx = 0, 0, 1, 1
    while pos + 3 <= len(buf):
        flen = struct.unpack('>H', buf[pos:pos + 2])[0]
        code = buf[pos + 2]
        if code not in (0xbb, 0xc1) or flen == 0:
            if count == 0:
                raise ValueError(f'{path} is not an intel5300 capture: record 0 has code '
                                 f'0x{code:02x} (expected 0xbb)')
            raise ValueError(f'corrupt intel5300 capture {path}: packet {count} at byte {pos} '
                             f'has code 0x{code:02x}')
        if pos + 2 + flen > len(buf):
            return count, pos, 2 + flen, dict(nrxnum=max_rx, ntxnum=max_tx)
        if code == 0xbb:
            if flen < 21:
                raise ValueError(f'corrupt intel5300 capture {path}: packet {count} at byte '
                                 f'{pos} is {flen} bytes long')
            nrx, ntx = buf[pos + 11], buf[pos + 12]
            length = struct.unpack('<H', buf[pos + 19:pos + 21])[0]
            expected = (30 * (nrx * ntx * 16 + 3) + 7) // 8
            if not (1 <= nrx <= 3 and 1 <= ntx <= 3) or length != expected or \
                    flen < 21 + length:
                raise ValueError(f'corrupt intel5300 capture {path}: packet {count} at byte '
                                 f'{pos}: Nrx={nrx}, Ntx={ntx}, CSI length {length} '
                                 f'(expected {expected})')
            max_rx, max_tx = max(max_rx, nrx), max(max_tx, ntx)
            count += 1
        pos += 2 + flen
    return count, pos, 3 if pos < len(buf) else 0, dict(nrxnum=max_rx, ntxnum=max_tx)


def _walk_atheros(path: str, buf: bytes, endian: str) -> Tuple[int, int, int, dict]:
    """Check the record chain of an Atheros CSI Tool file (see :func:`_walk_intel`)."""
    order = '<' if endian == 'little' else '>'
    pos, count, max_rx, max_tx, tones = 0, 0, 1, 1, 56
    while pos + 2 + _ATHEROS_HEADER <= len(buf):
        flen = struct.unpack(order + 'H', buf[pos:pos + 2])[0]
        csi_len = struct.unpack(order + 'H', buf[pos + 10:pos + 12])[0]
        nt, nr, nc = buf[pos + 18], buf[pos + 19], buf[pos + 20]
        pl_len = struct.unpack(order + 'H', buf[pos + 25:pos + 27])[0]
        if flen != _ATHEROS_HEADER + csi_len + pl_len or nt not in (56, 114) or \
                not (1 <= nr <= 3 and 1 <= nc <= 3):
            if count == 0:
                raise ValueError(f'{path} is not an atheros capture ({endian} endian): '
                                 f'record 0 has length {flen}, {nt} tones, nr={nr}, nc={nc}')
            raise ValueError(f'corrupt atheros capture {path}: packet {count} at byte {pos} '
                             f'(length {flen}, {nt} tones, nr={nr}, nc={nc})')
        if pos + 2 + flen > len(buf):
            return count, pos, 2 + flen, dict(nrxnum=max_rx, ntxnum=max_tx, tones=tones)
        max_rx, max_tx, tones = max(max_rx, nr), max(max_tx, nc), nt
        count += 1
        pos += 2 + flen
    need = 2 + _ATHEROS_HEADER if pos < len(buf) else 0
    return count, pos, need, dict(nrxnum=max_rx, ntxnum=max_tx, tones=tones)


def _walk_pcap(path: str, buf: bytes) -> Tuple[int, int, int, dict]:
    """Check a libpcap file (see :func:`_walk_intel`)."""
    if buf[:4] not in _PCAP_MAGICS:
        raise ValueError(f'{path} is not a nexmon (libpcap) capture: magic {buf[:4].hex()!r}'
                         ' (pcapng is not supported; convert with editcap -F pcap)')
    order = _PCAP_MAGICS[buf[:4]]
    pos, count = 24, 0
    while pos < len(buf):
        incl = struct.unpack(order + 'I', buf[pos + 8:pos + 12])[0] if pos + 16 <= len(buf) else 0
        if pos + 16 + incl > len(buf):
            return count, pos, 16 + incl, {}
        count += 1
        pos += 16 + incl
    return count, pos, 0, {}


def _walk_picoscenes(path: str, buf: bytes) -> Tuple[int, int, int, dict]:
    """Check a PicoScenes ``.csi`` file (see :func:`_walk_intel`)."""
    pos, count = 0, 0
    while pos < len(buf):
        if pos + 10 > len(buf):
            return count, pos, 10, {}
        flen = struct.unpack('<I', buf[pos:pos + 4])[0]
        if buf[pos + 4:pos + 8] != _PICOSCENES_MAGIC or flen < 6:
            if count == 0:
                raise ValueError(f'{path} is not a picoscenes capture: frame 0 has no '
                                 'PicoScenes magic word')
            raise ValueError(f'corrupt picoscenes capture {path}: frame {count} at byte {pos} '
                             'has no PicoScenes magic word')
        if pos + 4 + flen > len(buf):
            return count, pos, 4 + flen, {}
        count += 1
        pos += 4 + flen
    return count, pos, 0, {}


def _walk_esp32(path: str, buf: bytes, allow_truncated: bool) -> Tuple[list, int]:
    """Check an ESP32-CSI-Tool csv; returns (CSI_DATA lines, header lines)."""
    try:
        text = buf.decode('utf-8')
    except UnicodeDecodeError as err:
        raise ValueError(f'{path} is not an esp32 capture (not a text file: {err})') from err
    lines, skipped = [], 0
    rows = text.splitlines()
    for i, line in enumerate(rows):
        line = line.strip()
        if not line:
            continue
        if not line.startswith('CSI_DATA'):
            if lines:
                raise ValueError(f'corrupt esp32 capture {path}: line {i + 1} (after packet '
                                 f'{len(lines) - 1}) does not start with CSI_DATA')
            skipped += 1
            continue
        body = line.split('[', 1)[1] if '[' in line else ''
        if not body.endswith(']') or len(body[:-1].split()) % 2:
            if i == len(rows) - 1 or not any(r.strip() for r in rows[i + 1:]):
                if allow_truncated:
                    print_log(f'truncated capture {path}: kept {len(lines)} complete packets, '
                              f'ignored packet {len(lines)} (line {i + 1})', logger='current',
                              level=logging.WARNING)
                    break
                raise ValueError(f'truncated capture {path}: packet {len(lines)} (line {i + 1})'
                                 ' has no complete CSI array')
            raise ValueError(f'corrupt esp32 capture {path}: packet {len(lines)} (line '
                             f'{i + 1}) has a malformed CSI array')
        lines.append(line)
    if skipped and not lines:
        raise ValueError(f'{path} is not an esp32 capture: no CSI_DATA line')
    return lines, skipped


def _parse_copy(path: str, data: Union[bytes, str], parse):
    """Run ``parse(tmp_path)`` on a temporary copy holding ``data``."""
    suffix = osp.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data.encode() if isinstance(data, str) else data)
        return parse(tmp)
    finally:
        os.remove(tmp)


def _empty(path: str, fmt: str) -> ValueError:
    kind = f'{fmt} CSI' if fmt in CAPTURE_FORMATS else 'CSI'
    return ValueError(f'empty capture {path}: no {kind} packet')


def _parse(path: str, fmt: str, buf: bytes, allow_truncated: bool, kwargs: dict) -> dict:
    """Validate ``buf`` and parse it with csiread; returns a field dict."""
    import csiread
    size, endian = len(buf), kwargs.pop('endian', 'little')
    if fmt == 'esp32':
        lines, _ = _walk_esp32(path, buf, allow_truncated)
        count, data, kw = len(lines), '\n'.join(lines) + '\n', dict(csi_only=False)
    else:
        walk = dict(intel5300=_walk_intel, nexmon=_walk_pcap, picoscenes=_walk_picoscenes,
                    atheros=lambda p, b: _walk_atheros(p, b, endian))[fmt]
        count, valid, need, kw = walk(path, buf)
        if valid < size:
            if not allow_truncated:
                raise ValueError(f'truncated capture {path}: packet {count} at byte {valid} '
                                 f'needs {need} bytes but the file ends after {size - valid}')
            print_log(f'truncated capture {path}: kept {count} complete packets, ignored the '
                      f'last {size - valid} bytes (packet {count})', logger='current',
                      level=logging.WARNING)
        data = buf[:valid]
    if count == 0:
        raise _empty(path, fmt)
    kw.update(kwargs, if_report=False)
    if fmt == 'intel5300':
        r = _parse_copy(path, data, lambda p: _read(csiread.Intel(p, **kw)))
        bfee = r.bfee_count.astype(np.int64)
        dropped = int(np.sum((np.diff(bfee) % 65536) - 1)) if len(bfee) > 1 else 0
        return dict(csi=r.csi, raw_t=r.timestamp_low, period=NIC_CLOCK_PERIOD_US, nrx=r.Nrx,
                    ntx=r.Ntx, rssi=np.stack([r.rssi_a, r.rssi_b, r.rssi_c], 1),
                    dropped=max(dropped, 0))
    if fmt == 'atheros':
        r = _parse_copy(path, data, lambda p: _read(csiread.Atheros(p, **kw), endian=endian))
        return dict(csi=r.csi, raw_t=r.timestamp, period=None, nrx=r.nr, ntx=r.nc,
                    rssi=np.stack([r.rssi_1, r.rssi_2, r.rssi_3], 1))
    if fmt == 'picoscenes':
        return _parse_copy(path, data, lambda p: _parse_picoscenes(path, p, kw))
    if fmt == 'nexmon':
        r = _parse_copy(path, data, lambda p: _read(csiread.Nexmon(p, **dict(
            dict(chip='4358', bw=80), **kw))))
        raw_t = r.sec.astype(np.int64) * 1000000 + r.usec.astype(np.int64) // (
            1000 if r.nano else 1)
        rssi, period = np.zeros((len(r.csi), 0), np.float32), None
    else:  # esp32: one antenna pair, 32-bit microsecond clock
        r = _parse_copy(path, data, lambda p: _read(csiread.ESP32(p, **kw)))
        if kw['csi_only']:
            raw_t, rssi = np.arange(len(r.csi)), np.zeros((len(r.csi), 0), np.float32)
        else:
            raw_t, rssi = r.local_timestamp, r.rssi[:, None]
        period = NIC_CLOCK_PERIOD_US
    ones = np.ones(len(r.csi), np.int64)
    return dict(csi=r.csi[:, :, None, None], raw_t=raw_t, period=period, nrx=ones, ntx=ones,
                rssi=rssi)


def _resample_tones(csi: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Interpolate (S_src, R, T) CSI over subcarrier index onto ``dst``."""
    order = np.argsort(src)
    src, csi = src[order], csi[order]
    flat = csi.reshape(len(src), -1)
    out = np.empty((len(dst), flat.shape[1]), np.complex128)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(dst, src, flat[:, j].real) + 1j * np.interp(
            dst, src, flat[:, j].imag)
    return out.reshape((len(dst), ) + csi.shape[1:])


def _parse_picoscenes(path: str, tmp: str, kw: dict) -> dict:
    """Parse a PicoScenes file keeping each front end's tones and antennas.

    csiread fills only frames whose CSI fits its ``pl_size`` buffer and leaves
    the others zero, so the file is read twice: once to learn every frame's
    tone, receive and stream counts, then with a buffer of exactly the
    largest. Frames reporting another tone set than the most common one are
    interpolated onto it (counted). Timestamps get the unit of the front end
    (:data:`PICOSCENES_DEVICES`).
    """
    import csiread
    pl_size = dict(kw.pop('pl_size', None) or {})
    pl_size['CSI'] = [1, 1, 1]
    probe = _read(csiread.Picoscenes(tmp, dict(pl_size), **kw))
    info, basic = probe.raw['CSI']['Info'], probe.raw['RxSBasic']
    devices = np.asarray(basic['DeviceType']).astype(np.int64)
    kinds, counts = np.unique(devices, return_counts=True)
    if len(kinds) > 1:
        first = int(np.nonzero(devices != devices[0])[0][0])
        raise ValueError(f'mixed PicoScenes front ends in {path}: packet 0 is from device '
                         f'0x{devices[0]:x}, packet {first} from 0x{devices[first]:x}')
    device = int(kinds[0])
    if device not in PICOSCENES_DEVICES:
        raise ValueError(f'{path}: PicoScenes front end 0x{device:x} is not supported '
                         f'(known: {", ".join(n for n, _ in PICOSCENES_DEVICES.values())})')
    name, tick = PICOSCENES_DEVICES[device]
    tones = np.asarray(info['NumTones']).astype(np.int64)
    nrx = np.asarray(info['NumRx']).astype(np.int64)
    nsts = np.asarray(info['NumTx']).astype(np.int64) + np.asarray(info['NumESS']).astype(
        np.int64)
    if (tones < 1).any() or (nrx < 1).any() or (nsts < 1).any():
        bad = int(np.nonzero((tones < 1) | (nrx < 1) | (nsts < 1))[0][0])
        raise ValueError(f'{path}: PicoScenes packet {bad} ({name}) reports {tones[bad]} '
                         f'tones, {nrx[bad]} receive antennas, {nsts[bad]} streams')
    pl_size['CSI'] = [int(tones.max()), int(nrx.max()), int(nsts.max())]
    r = _read(csiread.Picoscenes(tmp, pl_size, **kw))
    csi_all = np.asarray(r.raw['CSI']['CSI'])
    scidx = np.asarray(r.raw['CSI']['SubcarrierIndex']).astype(np.int64)
    values, num = np.unique(tones, return_counts=True)
    grid_tones = int(values[np.argmax(num)])
    ref = int(np.nonzero(tones == grid_tones)[0][0])
    grid = scidx[ref, :grid_tones].copy()
    csi = csi_all[:, :grid_tones]
    resampled = np.nonzero(tones != grid_tones)[0]
    if len(resampled):
        csi = csi.copy()
        for i in resampled.tolist():
            csi[i] = _resample_tones(csi_all[i, :tones[i]], scidx[i, :tones[i]], grid)
        print_log(f'{path}: {len(resampled)} of {len(tones)} PicoScenes packets report '
                  f'{sorted(set(tones[resampled].tolist()))} tones instead of {grid_tones}; '
                  'interpolated onto the common subcarriers', logger='current',
                  level=logging.WARNING)
    return dict(csi=csi, raw_t=basic['Timestamp'], period=None, tick=tick, nrx=nrx, ntx=nsts,
                rssi=np.stack([basic['RSSI1'], basic['RSSI2'], basic['RSSI3']], 1),
                subcarriers=grid, num_resampled=len(resampled), device=name)


def _read(reader, **kwargs):
    reader.read(**kwargs)
    return reader


def read_csi_capture(path: str,
                     fmt: str = 'auto',
                     antennas: Union[str, Tuple[int, int]] = 'error',
                     backwards: str = 'error',
                     allow_truncated: bool = False,
                     **reader_kwargs) -> CSICapture:
    """Read a raw CSI capture into per-packet complex CSI.

    Args:
        path (str): Capture file.
        fmt (str): One of :data:`CAPTURE_FORMATS`, or ``'auto'`` to detect it
            from the content / extension. Defaults to 'auto'.
        antennas (str | tuple[int, int]): Packets with different antenna
            counts: ``'error'`` raises naming the first differing packet;
            ``'majority'`` keeps the most common ``(Nrx, Ntx)``; a pair
            ``(nrx, ntx)`` keeps exactly those packets. Removed packets are
            counted in ``removed`` and logged. Defaults to 'error'.
        backwards (str): A timestamp before its predecessor's (after
            unwrapping): ``'error'`` raises naming the packet, ``'drop'``
            removes such packets (counted and logged). Defaults to 'error'.
        allow_truncated (bool): Keep the complete packets of a truncated
            file (logged) instead of raising. Defaults to False.
        **reader_kwargs: Extra arguments of the csiread class (e.g.
            ``chip``/``bw`` for nexmon, ``endian`` for atheros,
            ``pl_size`` for picoscenes).

    Returns:
        CSICapture: The packets, oldest first as stored.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Wrong format, empty or truncated capture, mixed antenna
            counts, timestamps going backwards (each naming the file and,
            where it applies, the packet index).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'CSI capture {path} does not exist')
    if osp.getsize(path) == 0:
        raise _empty(path, fmt if fmt != 'auto' else 'CSI')
    if fmt == 'auto':
        fmt = detect_format(path)
    if fmt not in CAPTURE_FORMATS:
        raise ValueError(f'unknown CSI capture format {fmt!r} for {path}; expected one of '
                         f'{CAPTURE_FORMATS} or "auto"')
    with open(path, 'rb') as f:
        buf = f.read()
    if not buf:
        raise _empty(path, fmt)
    try:
        fields = _parse(path, fmt, buf, allow_truncated, dict(reader_kwargs))
    except ValueError:
        raise
    except Exception as err:  # csiread's own errors: name the file and format
        raise ValueError(f'cannot read {path} as a {fmt} capture: {err}') from err
    raw_t = np.asarray(fields['raw_t'])
    ticks, wraps = unwrap_timestamps(raw_t, fields['period'])
    csi = _check_csi_values(path, fmt, np.asarray(fields['csi']))
    n = len(csi)
    capture = CSICapture(
        path=path, format=fmt, csi=csi,
        timestamps=ticks.astype(np.float64) * fields.get('tick', 1e-6),
        nrx=np.asarray(fields['nrx']).astype(np.int64).reshape(n),
        ntx=np.asarray(fields['ntx']).astype(np.int64).reshape(n),
        rssi=np.asarray(fields['rssi'], np.float32).reshape(n, -1),
        packet_index=np.arange(n), num_wraps=wraps, num_dropped=int(fields.get('dropped', 0)),
        subcarriers=fields.get('subcarriers'), num_resampled=int(fields.get('num_resampled', 0)),
        device=fields.get('device', fmt))
    capture = _select_antennas(capture, antennas)
    return _check_backwards(capture, backwards)


def _check_csi_values(path: str, fmt: str, csi: np.ndarray) -> np.ndarray:
    """Refuse a stream that is all zero or holds a non-finite value.

    A parser that does not understand a front end leaves its CSI zero (and a
    broken file can hold NaN/Inf); either would train a student on nothing.
    Single all-zero packets are kept and counted in a warning.

    Returns:
        np.ndarray: ``csi`` as complex64.

    Raises:
        ValueError: naming the file, the format and the first bad packet.
    """
    finite = np.isfinite(csi).reshape(len(csi), -1).all(1)
    if not finite.all():
        bad = np.nonzero(~finite)[0]
        raise ValueError(f'non-finite CSI in {path} ({fmt}): packet {int(bad[0])} holds NaN '
                         f'or Inf ({len(bad)} of {len(csi)} packets)')
    zero = ~np.abs(csi).reshape(len(csi), -1).any(1)
    if zero.all():
        raise ValueError(f'all-zero CSI in {path} ({fmt}): every one of the {len(csi)} '
                         'packets parsed to zeros (a front end or layout the parser does '
                         'not read); refusing to use it')
    if zero.any():
        print_log(f'{path}: {int(zero.sum())} of {len(csi)} packets have all-zero CSI '
                  f'(first: packet {int(np.nonzero(zero)[0][0])})', logger='current',
                  level=logging.WARNING)
    return csi.astype(np.complex64)


def _select_antennas(capture: CSICapture, antennas) -> CSICapture:
    pairs = np.stack([capture.nrx, capture.ntx], 1)
    kinds, counts = np.unique(pairs, axis=0, return_counts=True)
    if isinstance(antennas, str):
        if antennas not in ('error', 'majority'):
            raise ValueError(f"antennas must be 'error', 'majority' or (nrx, ntx), got "
                             f'{antennas!r}')
        if len(kinds) <= 1:
            return capture
        if antennas == 'error':
            first = int(np.nonzero((pairs != pairs[0]).any(1))[0][0])
            raise ValueError(
                f'mixed antenna counts in {capture.path}: packet 0 has Nrx={pairs[0, 0]}, '
                f'Ntx={pairs[0, 1]} but packet {capture.packet_index[first]} has '
                f'Nrx={pairs[first, 0]}, Ntx={pairs[first, 1]} ({len(kinds)} kinds); select '
                'a consistent subset: --antennas majority or --antennas NRX,NTX on the '
                "command line (antennas='majority' or (nrx, ntx) in Python)")
        target = kinds[int(np.argmax(counts))]
    else:
        target = np.asarray(tuple(antennas), np.int64)
        if target.shape != (2, ):
            raise ValueError(f'antennas must be a (nrx, ntx) pair, got {antennas!r}')
    keep = (pairs == target).all(1)
    if not keep.any():
        raise ValueError(f'{capture.path}: no packet has Nrx={target[0]}, Ntx={target[1]} '
                         f'(present: {[tuple(k) for k in kinds.tolist()]})')
    out = capture.select(keep)
    out.csi = out.csi[:, :, :target[0], :target[1]]
    removed = int((~keep).sum())
    if removed:
        out.removed['antennas'] = removed
        print_log(f'{capture.path}: kept {int(keep.sum())} packets with Nrx={target[0]}, '
                  f'Ntx={target[1]}, removed {removed} with other antenna counts',
                  logger='current', level=logging.WARNING)
    return out


def _check_backwards(capture: CSICapture, backwards: str) -> CSICapture:
    if backwards not in ('error', 'drop'):
        raise ValueError(f"backwards must be 'error' or 'drop', got {backwards!r}")
    bad = find_backward_steps(capture.timestamps)
    if len(bad) == 0:
        return capture
    i = int(bad[0])
    if backwards == 'error':
        raise ValueError(
            f'timestamps go backwards in {capture.path}: packet {capture.packet_index[i]} '
            f'at {capture.timestamps[i]:.6f} s follows {capture.timestamps[i - 1]:.6f} s '
            f"({len(bad)} such packets); pass backwards='drop' to remove them")
    # drop every packet earlier than the running maximum of its predecessors
    running = np.maximum.accumulate(capture.timestamps)
    keep = capture.timestamps >= running
    out = capture.select(keep)
    out.removed['backwards'] = int((~keep).sum())
    print_log(f'{capture.path}: removed {out.removed["backwards"]} packets whose timestamps '
              f'go backwards (first: packet {capture.packet_index[i]})', logger='current',
              level=logging.WARNING)
    return out
