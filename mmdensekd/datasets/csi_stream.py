# Copyright (c) mmdensekd contributors. All rights reserved.
"""Live CSI sources: packets with timestamps as the hardware sends them.

Every source has ``read(timeout) -> list[CSIPacket]`` and ``close()`` and
counts what it cannot use in a shared :class:`StreamStats` (named and
logged, never raised):

* ``udp://HOST:PORT`` (:class:`UDPSource`): nexmon_csi datagrams (the UDP
  payload nexmon_csi sends to port 5500: magic ``0x11111111`` or, since
  nexmon_csi pull 46, ``0x1111`` + RSSI + frame control, then source MAC,
  sequence number, core / spatial stream, chanspec, chip version, and
  ``4 * Nsub`` bytes of CSI; parsed by ``csiread``'s ``pmsg``), or Linux
  802.11n CSI Tool records (code ``0xbb`` + body, as ``log_to_server``
  sends them; an optional 2-byte length prefix is accepted). Nexmon has no
  packet clock in its payload: the time of a nexmon packet is its arrival.
* ``serial:///dev/ttyUSB0?baud=921600`` (:class:`SerialSource`) and
  ``stdin:`` / ``-``: ESP32-CSI-Tool ``CSI_DATA`` lines (pyserial when
  installed, else the POSIX ``termios`` interface).
* ``follow:FILE`` (:class:`FollowSource`): a capture file while it grows
  (Intel 5300 ``log_to_file`` ``.dat``, ESP32 ``.csv`` logs, nexmon
  ``tcpdump -w`` ``.pcap``); a truncated or rotated file is reopened.
* ``replay:FILE`` (:class:`ReplaySource`): any finished capture of
  :mod:`mmdensekd.datasets.csi_capture`, paced by its own timestamps
  (``?speed=F`` plays F times faster, ``?loop=1`` repeats it).

Packet times are on the capture's clock as :func:`read_csi_capture` gives
them (the NIC's microsecond counter unwrapped, in seconds), so a stream of a
file windows exactly like the file (see
:class:`~mmdensekd.datasets.csi_windowing.StreamWindower`).
:func:`capture_records` and :func:`replay_records` send a finished capture
over a transport in real time (demos and tests).
"""
import logging
import os
import os.path as osp
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlparse

import numpy as np
from mmengine.logging import print_log

from .csi_capture import CAPTURE_FORMATS, NIC_CLOCK_PERIOD_US, detect_format, read_csi_capture

#: Sources that :func:`open_source` accepts.
SOURCE_KINDS = ('udp', 'serial', 'stdin', 'follow', 'replay')
#: Formats a followed file may have.
FOLLOW_FORMATS = ('intel5300', 'esp32', 'nexmon')
#: Fields before the CSI array of an ESP32-CSI-Tool line (``CSI_DATA`` ..
#: ``len``); ``local_timestamp`` (microseconds) is field 18.
ESP32_FIELDS = 25
ESP32_TIME_FIELD = 18
_MAX_LINE = 65536
#: libpcap magic -> byte order (microsecond and nanosecond files).
_PCAP_MAGICS = {b'\xd4\xc3\xb2\xa1': '<', b'\xa1\xb2\xc3\xd4': '>', b'\x4d\x3c\xb2\xa1': '<',
                b'\xa1\xb2\x3c\x4d': '>'}
_PCAP_NANO = (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
#: Ethernet + IPv4 + UDP headers before a nexmon payload in a pcap record.
_UDP_HEADERS = 42


class PacketError(ValueError):
    """A packet that cannot be parsed; ``reason`` is its counter name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class CSIPacket:
    """One received CSI packet.

    Attributes:
        time (float): Seconds on the capture clock.
        csi (np.ndarray): (S, R, T) complex64.
        arrival (float): ``time.perf_counter()`` when it was received.
    """

    time: float
    csi: np.ndarray
    arrival: float


class StreamStats:
    """Counters of a live stream, each with its last message.

    ``count`` logs the first occurrence of a reason and then every 100th, so
    a flood of bad packets does not flood the log; :attr:`counts` and
    :attr:`last` hold everything for a status display.
    """

    def __init__(self, name: str = 'CSI stream', log_every: int = 100) -> None:
        self.name = name
        self.log_every = log_every
        self.counts: Dict[str, int] = {}
        self.last: Dict[str, str] = {}
        self.events: Deque[str] = deque(maxlen=20)
        self._lock = threading.Lock()

    def count(self, reason: str, message: str = '', n: int = 1, log: bool = True) -> None:
        """Add ``n`` to counter ``reason`` and remember ``message``."""
        with self._lock:
            total = self.counts.get(reason, 0) + n
            self.counts[reason] = total
            if message:
                self.last[reason] = message
                self.events.append(f'{reason}: {message}')
        if log and message and (total == n or total % self.log_every < n):
            print_log(f'{self.name}: {reason} #{total}: {message}', logger='current',
                      level=logging.WARNING)

    def get(self, reason: str) -> int:
        return self.counts.get(reason, 0)

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return dict(self.counts)


class TickClock:
    """Unwrap a wrapping microsecond counter packet by packet, as
    :func:`~mmdensekd.datasets.csi_capture.unwrap_timestamps` does for a file
    (a step back by more than half the period is a wrap)."""

    def __init__(self, period: Optional[int] = NIC_CLOCK_PERIOD_US) -> None:
        self.period = period
        self.last: Optional[int] = None
        self.offset = 0
        self.wraps = 0

    def seconds(self, raw: int) -> float:
        raw = int(raw)
        if self.period is not None and self.last is not None and \
                raw - self.last < -(self.period // 2):
            self.offset += self.period
            self.wraps += 1
        self.last = raw
        return float(np.float64(raw + self.offset) * 1e-6)


# ---------------------------------------------------------------- parsers


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


# ---------------------------------------------------------------- framers


class _LineFramer:
    """Bytes -> text lines; a line without end longer than 64 KiB is dropped."""

    def __init__(self, stats: StreamStats) -> None:
        self.buf = b''
        self.stats = stats

    def feed(self, data: bytes) -> List[str]:
        self.buf += data
        *lines, self.buf = self.buf.split(b'\n')
        if len(self.buf) > _MAX_LINE:
            self.stats.count('malformed_lines', f'{len(self.buf)} bytes without a line end')
            self.buf = b''
        out = []
        for raw in lines:
            try:
                out.append(raw.decode('utf-8'))
            except UnicodeDecodeError:
                self.stats.count('malformed_lines', f'not UTF-8 text: {raw[:20]!r}')
        return out

    def rest(self) -> List[str]:
        """The last line of a finished stream (no line end)."""
        rest, self.buf = self.buf, b''
        return [rest.decode('utf-8', 'replace')] if rest.strip() else []


class _IntelFramer:
    """Bytes of a ``log_to_file`` stream -> records (code + body).

    A record with an impossible header is counted and the framer resyncs at
    the next offset where a well-formed CSI record starts.
    """

    def __init__(self, stats: StreamStats) -> None:
        self.buf = b''
        self.stats = stats

    @staticmethod
    def _plausible(buf: bytes, pos: int) -> bool:
        if pos + 3 > len(buf):
            return True  # cannot tell yet
        flen, code = struct.unpack('>H', buf[pos:pos + 2])[0], buf[pos + 2]
        if code == 0xc1:
            return 0 < flen < 4096
        if code != 0xbb or flen < 21:
            return False
        if pos + 23 > len(buf):
            return True
        try:
            check_intel_record(buf[pos + 2:pos + 2 + flen] + b'\0' * max(
                0, pos + 2 + flen - len(buf)))
        except PacketError:
            return False
        return True

    def feed(self, data: bytes) -> List[bytes]:
        self.buf += data
        out, pos, buf = [], 0, self.buf
        while pos + 3 <= len(buf):
            if not self._plausible(buf, pos):
                start = pos
                pos += 1
                while pos + 3 <= len(buf) and not self._plausible(buf, pos):
                    pos += 1
                self.stats.count('malformed_records', f'{pos - start} bytes of garbage skipped '
                                 'to the next CSI record')
                continue
            flen = struct.unpack('>H', buf[pos:pos + 2])[0]
            if pos + 2 + flen > len(buf):
                break
            out.append(buf[pos + 2:pos + 2 + flen])
            pos += 2 + flen
        self.buf = buf[pos:]
        return out


class _PcapFramer:
    """Bytes of a libpcap stream -> (microsecond time, UDP payload)."""

    def __init__(self, stats: StreamStats) -> None:
        self.buf = b''
        self.order: Optional[str] = None
        self.nano = False
        self.stats = stats

    def feed(self, data: bytes) -> List[Tuple[int, bytes]]:
        self.buf += data
        if self.order is None:
            if len(self.buf) < 24:
                return []
            magic = self.buf[:4]
            if magic not in _PCAP_MAGICS:
                self.stats.count('malformed_records', f'not a libpcap stream (magic '
                                 f'{magic.hex()}); pcapng is not supported')
                self.buf = b''
                return []
            self.order, self.nano = _PCAP_MAGICS[magic], magic in _PCAP_NANO
            self.buf = self.buf[24:]
        out, pos, buf = [], 0, self.buf
        while pos + 16 <= len(buf):
            sec, frac, incl = struct.unpack(self.order + 'III', buf[pos:pos + 12])
            if incl > 262144:
                self.stats.count('malformed_records', f'pcap record of {incl} bytes; the rest '
                                 'of the stream is dropped')
                pos = len(buf)
                break
            if pos + 16 + incl > len(buf):
                break
            stamp = sec * 1000000 + frac // (1000 if self.nano else 1)
            out.append((stamp, buf[pos + 16 + _UDP_HEADERS:pos + 16 + incl]))
            pos += 16 + incl
        self.buf = buf[pos:]
        return out


class _Decoder:
    """Framed records of one format -> :class:`CSIPacket` s (bad ones counted)."""

    def __init__(self, fmt: str, stats: StreamStats, chip: str = '4358') -> None:
        if fmt not in FOLLOW_FORMATS:
            raise ValueError(f'cannot stream {fmt!r} packets; streaming formats are '
                             f'{FOLLOW_FORMATS} (a finished {fmt} capture can be replayed '
                             'with replay:FILE)')
        self.fmt, self.stats = fmt, stats
        self.parsers = _Parsers(chip)
        self.clock = TickClock(None if fmt == 'nexmon' else NIC_CLOCK_PERIOD_US)
        self.framer = dict(intel5300=_IntelFramer, esp32=_LineFramer,
                           nexmon=_PcapFramer)[fmt](stats)
        self.tap: Optional[Callable] = None  # tap(fmt, item, packet) per good packet

    def _one(self, item, arrival: float) -> Optional[CSIPacket]:
        try:
            if self.fmt == 'esp32':
                if not item.strip():
                    return None
                cut = item.rfind('CSI_DATA')
                if cut > 0:  # a line cut short, then the next line on the same line
                    self.stats.count('malformed_lines', 'line cut in the middle (the next '
                                     f'line starts inside it): {item[:40]!r}...')
                    item = item[cut:]
                stamp, csi = parse_esp32_line(item)
            elif self.fmt == 'intel5300':
                stamp, csi = self.parsers.intel(item)
            else:
                stamp, csi = item[0], self.parsers.nexmon(item[1])
        except PacketError as err:
            self.stats.count(err.reason, str(err), log=err.reason != 'non_csi_records')
            return None
        packet = CSIPacket(self.clock.seconds(stamp), csi, arrival)
        if self.tap is not None:
            self.tap(self.fmt, item, packet)
        return packet

    def feed(self, data: bytes, arrival: Optional[float] = None,
             keep: bool = True) -> List[CSIPacket]:
        arrival = time.perf_counter() if arrival is None else arrival
        items = self.framer.feed(data)
        if not keep:
            return []
        return self.decode(items, arrival)

    def decode(self, items: list, arrival: float) -> List[CSIPacket]:
        """Packets of framed items (ESP32 lines, Intel records without their
        length, nexmon (microsecond time, payload) pairs)."""
        return [p for p in (self._one(i, arrival) for i in items) if p is not None]

    def finish(self) -> List[CSIPacket]:
        if self.fmt != 'esp32':
            return []
        arrival = time.perf_counter()
        return [p for p in (self._one(i, arrival) for i in self.framer.rest()) if p is not None]


# ---------------------------------------------------------------- sources


class CSISource:
    """A live CSI source.

    Attributes:
        name (str): The source URI.
        stats (StreamStats): Counters of unusable input.
        finished (bool): True once a finite source (replay, stdin, a closed
            pipe) has no more packets.
    """

    def __init__(self, name: str, stats: Optional[StreamStats] = None) -> None:
        self.name = name
        self.stats = stats or StreamStats(name)
        self.finished = False

    def read(self, timeout: float = 0.1) -> List[CSIPacket]:
        """Packets received within ``timeout`` seconds ([] if none)."""
        raise NotImplementedError

    def set_tap(self, fn: Callable) -> None:
        """Call ``fn(fmt, item, packet)`` with the raw item of every good packet
        (e.g. a :class:`CaptureWriter` recording the stream)."""
        raise NotImplementedError(f'{self.name}: this source cannot record its raw packets')

    def close(self) -> None:
        """Release the device / socket / file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class UDPSource(CSISource):
    """nexmon_csi (or Intel ``log_to_server``-style) datagrams on a UDP port.

    Args:
        host (str): Address to bind (``0.0.0.0`` for all).
        port (int): UDP port (nexmon_csi sends to 5500).
        chip (str): nexmon chip for csiread (``4339``, ``43455c0``,
            ``4358``, ``4366c0``).
    """

    def __init__(self, host: str = '0.0.0.0', port: int = 5500, chip: str = '4358',
                 stats: Optional[StreamStats] = None) -> None:
        super().__init__(f'udp://{host}:{port}', stats)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        try:
            self.sock.bind((host, port))
        except OSError as err:
            self.sock.close()
            raise OSError(f'{self.name}: cannot bind the UDP port ({err})') from err
        self.port = self.sock.getsockname()[1]
        self.name = f'udp://{host}:{self.port}'
        self.stats.name = self.name
        self.parsers = _Parsers(chip)
        self.intel_clock = TickClock()
        self.tap: Optional[Callable] = None  # tap(fmt, item, packet) per good packet

    def set_tap(self, fn: Callable) -> None:
        self.tap = fn

    def _packet(self, data: bytes, arrival: float) -> Optional[CSIPacket]:
        try:
            if data[:2] == b'\x11\x11':
                csi = self.parsers.nexmon(data)
                stamp = int(time.time() * 1e6)
                pkt = CSIPacket(float(np.float64(stamp) * 1e-6), csi, arrival)
                if self.tap is not None:
                    self.tap('nexmon', (stamp, data), pkt)
                return pkt
            if len(data) > 2 and data[0] != 0xbb and data[2] == 0xbb and \
                    struct.unpack('>H', data[:2])[0] == len(data) - 2:
                data = data[2:]  # a record with its file length prefix
            if data[:1] in (b'\xbb', b'\xc1'):
                stamp, csi = self.parsers.intel(data)
                pkt = CSIPacket(self.intel_clock.seconds(stamp), csi, arrival)
                if self.tap is not None:
                    self.tap('intel5300', data, pkt)
                return pkt
            raise PacketError('malformed_datagrams', f'{len(data)}-byte datagram is neither '
                              f'nexmon_csi nor an Intel CSI record (starts {data[:4].hex()})')
        except PacketError as err:
            self.stats.count(err.reason, str(err), log=err.reason != 'non_csi_records')
            return None

    def read(self, timeout: float = 0.1) -> List[CSIPacket]:
        out = []
        ready, _, _ = select.select([self.sock], [], [], timeout)
        while ready:
            data = self.sock.recv(65536)
            pkt = self._packet(data, time.perf_counter())
            if pkt is not None:
                out.append(pkt)
            ready, _, _ = select.select([self.sock], [], [], 0)
        return out

    def close(self) -> None:
        self.sock.close()


class _FdLineSource(CSISource):
    """ESP32-CSI-Tool lines from a file descriptor (serial port, stdin)."""

    def __init__(self, name: str, fd: int, stats: Optional[StreamStats] = None,
                 reader: Optional[Callable[[int], bytes]] = None) -> None:
        super().__init__(name, stats)
        self.fd = fd
        self.decoder = _Decoder('esp32', self.stats)
        self._reader = reader or (lambda n: os.read(self.fd, n))

    def set_tap(self, fn: Callable) -> None:
        self.decoder.tap = fn

    def read(self, timeout: float = 0.1) -> List[CSIPacket]:
        if self.finished:
            return []
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        try:
            data = self._reader(65536)
        except OSError as err:  # a pty whose other end closed reads EIO
            data = b''
            self.stats.count('read_errors', f'{self.name}: {err}')
        if not data:
            self.finished = True
            return self.decoder.finish()
        return self.decoder.feed(data)


class SerialSource(_FdLineSource):
    """ESP32-CSI-Tool lines from a serial port.

    Uses pyserial when it is installed; without it, POSIX systems open the
    device with ``termios`` (raw mode at ``baud``).

    Args:
        path (str): Device, e.g. ``/dev/ttyUSB0``.
        baud (int): Baud rate (ESP32-CSI-Tool: 921600 or 115200).
    """

    def __init__(self, path: str, baud: int = 921600,
                 stats: Optional[StreamStats] = None) -> None:
        self.serial = None
        try:
            import serial  # noqa: F401
        except ImportError:
            serial = None
        if serial is not None:
            try:
                self.serial = serial.Serial(path, baud, timeout=0)
            except serial.SerialException as err:
                raise OSError(f'serial://{path}: cannot open the serial port ({err})') from err
            super().__init__(f'serial://{path}?baud={baud}', self.serial.fileno(), stats,
                             reader=lambda n: self.serial.read(n))
            return
        try:
            import termios
            import tty
        except ImportError as err:
            raise ImportError('reading a serial port needs pyserial on this system: pip '
                              'install pyserial') from err
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as err:
            raise OSError(f'serial://{path}: cannot open the serial port ({err})') from err
        try:
            tty.setraw(fd)
            attrs = termios.tcgetattr(fd)
            speed = getattr(termios, f'B{baud}', None)
            if speed is None:
                raise ValueError(f'serial://{path}: unsupported baud rate {baud}')
            attrs[4] = attrs[5] = speed
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except (termios.error, ValueError):
            os.close(fd)
            raise
        super().__init__(f'serial://{path}?baud={baud}', fd, stats)

    def close(self) -> None:
        if self.serial is not None:
            self.serial.close()
        else:
            os.close(self.fd)


class StdinSource(_FdLineSource):
    """ESP32-CSI-Tool lines on standard input (e.g. ``idf.py monitor | ...``)."""

    def __init__(self, stats: Optional[StreamStats] = None) -> None:
        super().__init__('stdin', sys.stdin.fileno(), stats)


class FollowSource(CSISource):
    """A capture file followed while it grows (``tail -F``).

    Complete records are parsed as they appear; a partial last record waits
    for its end. A file that shrinks (truncated) or is replaced (rotated:
    a new inode at the path) is counted and read again from its start.

    Args:
        path (str): Capture file (may not exist yet).
        fmt (str): ``'auto'`` (from the content once there is some) or one
            of :data:`FOLLOW_FORMATS`.
        from_start (bool): Read what the file already holds (True) or only
            what is appended after opening it.
        poll (float): Seconds between size checks.
        chip (str): nexmon chip (pcap files).
    """

    def __init__(self, path: str, fmt: str = 'auto', from_start: bool = True,
                 poll: float = 0.02, chip: str = '4358',
                 stats: Optional[StreamStats] = None) -> None:
        super().__init__(f'follow:{path}', stats)
        if fmt != 'auto' and fmt not in FOLLOW_FORMATS:
            raise ValueError(f'follow:{path}: cannot follow {fmt!r} files; followed formats '
                             f'are {FOLLOW_FORMATS} (use replay:FILE for a finished capture)')
        self.path, self.fmt, self.poll, self.chip = path, fmt, poll, chip
        self.f = None
        self.inode = None
        self.pos = 0
        self.decoder: Optional[_Decoder] = None
        self._skip_existing = not from_start
        self.tap: Optional[Callable] = None
        self._open()

    def set_tap(self, fn: Callable) -> None:
        self.tap = fn
        if self.decoder is not None:
            self.decoder.tap = fn

    def _open(self) -> bool:
        if self.f is not None:
            self.f.close()
            self.f = None
        try:
            self.f = open(self.path, 'rb')
        except FileNotFoundError:
            return False
        self.inode, self.pos, self.decoder = os.fstat(self.f.fileno()).st_ino, 0, None
        return True

    def _decoder(self) -> Optional[_Decoder]:
        """The decoder, once the format is known (from 64 bytes of content)."""
        if self.decoder is None:
            fmt = self.fmt
            if fmt == 'auto':
                if os.fstat(self.f.fileno()).st_size < 64:
                    return None  # too little to tell yet
                try:
                    fmt = detect_format(self.path)
                except ValueError as err:
                    self.stats.count('unknown_format', str(err))
                    return None
                if fmt not in FOLLOW_FORMATS:
                    raise ValueError(f'follow:{self.path}: a {fmt} capture cannot be followed; '
                                     f'followed formats are {FOLLOW_FORMATS}')
            self.decoder = _Decoder(fmt, self.stats, self.chip)
            self.decoder.tap = self.tap
        return self.decoder

    def _check_replaced(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # being rotated: keep reading the old file until a new one exists
        if st.st_ino != self.inode:
            self.stats.count('rotated', f'{self.path} was replaced; reading the new file')
            self._open()
        elif st.st_size < self.pos:
            self.stats.count('truncated', f'{self.path} shrank from {self.pos} to '
                             f'{st.st_size} bytes; reading it again from the start')
            self._open()

    def read(self, timeout: float = 0.1) -> List[CSIPacket]:
        deadline = time.perf_counter() + timeout
        while True:
            if self.f is None and not self._open():
                pass
            else:
                self._check_replaced()
                dec = self._decoder() if self.f is not None else None
                data = self.f.read() if dec is not None else b''
                if data:
                    self.pos += len(data)
                    keep = not self._skip_existing
                    self._skip_existing = False
                    packets = dec.feed(data, keep=keep)
                    if packets:
                        return packets
            if time.perf_counter() >= deadline:
                return []
            time.sleep(min(self.poll, max(deadline - time.perf_counter(), 0)))

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


class ReplaySource(CSISource):
    """A finished capture played at its own pace (or ``speed`` times faster).

    Intel 5300, ESP32 and nexmon captures are sent record by record through
    the live parsers (as the hardware would send them); other formats
    (Atheros, PicoScenes) are read whole with ``read_csi_capture``.

    Args:
        path (str): Capture file.
        fmt (str): Format or ``'auto'``.
        speed (float): Playback speed factor.
        loop (bool): Start again at the end (times keep increasing).
        **reader_kwargs: Arguments of ``read_csi_capture`` (other formats)
            / ``chip`` for nexmon.
    """

    def __init__(self, path: str, fmt: str = 'auto', speed: float = 1.0, loop: bool = False,
                 stats: Optional[StreamStats] = None, **reader_kwargs) -> None:
        super().__init__(f'replay:{path}', stats)
        if speed <= 0:
            raise ValueError(f'replay:{path}: speed must be positive, got {speed}')
        if not osp.isfile(path):
            raise FileNotFoundError(f'replay:{path}: CSI capture does not exist')
        fmt = detect_format(path) if fmt == 'auto' else fmt
        self.decoder: Optional[_Decoder] = None
        if fmt in FOLLOW_FORMATS:
            _, records = capture_records(path, fmt)
            if not records:
                raise ValueError(f'replay:{path}: no CSI packet in the {fmt} capture')
            self.times = np.asarray([t for t, _ in records])
            self.items = [_as_item(fmt, t, r) for t, r in records]
            self.decoder = _Decoder(fmt, self.stats, reader_kwargs.get('chip', '4358'))
        else:
            reader_kwargs.pop('chip', None)
            reader_kwargs.setdefault('antennas', 'majority')
            reader_kwargs.setdefault('backwards', 'drop')
            reader_kwargs.setdefault('allow_truncated', True)
            capture = read_csi_capture(path, fmt, **reader_kwargs)
            self.times, self.items = capture.timestamps, list(capture.csi)
        self.fmt, self.speed, self.loop = fmt, speed, loop
        self.i = 0
        self.loops = 0
        self.start: Optional[float] = None

    def set_tap(self, fn: Callable) -> None:
        if self.decoder is None:
            raise ValueError(f'{self.name}: a {self.fmt} replay has no raw records to record; '
                             f'formats with records: {FOLLOW_FORMATS}')
        self.decoder.tap = fn

    def _due(self, i: int) -> float:
        return self.start + (self.times[i] - self.times[0]) / self.speed

    def read(self, timeout: float = 0.1) -> List[CSIPacket]:
        if self.finished:
            return []
        now = time.perf_counter()
        if self.start is None:
            self.start = now
        wait = min(self._due(self.i), now + timeout) - now
        if wait > 0:
            time.sleep(wait)
        now = time.perf_counter()
        out: List[CSIPacket] = []
        while self._due(self.i) <= now:
            item = self.items[self.i]
            if self.decoder is not None:
                out += self.decoder.decode([item], now)
            else:
                out.append(CSIPacket(float(self.times[self.i]), item, now))
            self.i += 1
            if self.i == len(self.items):
                if not self.loop:
                    self.finished = True
                    break
                # next loop: same packets later (the windower sees a clock
                # jump back and restarts its frame grid, counted)
                self.i, self.loops = 0, self.loops + 1
                self.start = now + (float(np.median(np.diff(self.times))) if len(
                    self.times) > 1 else 0.1) / self.speed
                break
        return out


def _as_item(fmt: str, t: float, record: bytes):
    """A :func:`capture_records` record as the decoder's framed item."""
    if fmt == 'esp32':
        return record.decode('utf-8')
    if fmt == 'intel5300':
        return record[2:]
    return int(round(t * 1e6)), record  # nexmon: (microseconds, payload)


def _udp_headers(size: int) -> bytes:
    """Ethernet + IPv4 + UDP headers of a nexmon_csi frame (10.10.10.10:5500 ->
    broadcast:5500, as nexmon_csi sends them) for a ``size``-byte payload."""
    eth = b'\xff' * 6 + b'NEXMON' + b'\x08\x00'
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 28 + size, 1, 0, 1, 17, 0, bytes([10] * 4),
                     b'\xff' * 4)
    return eth + ip + struct.pack('>HHHH', 5500, 5500, 8 + size, 0)


class CaptureWriter:
    """Write tapped packets as a capture file the offline tools read.

    Intel 5300 records -> ``PATH.dat`` (``log_to_file`` layout), ESP32 lines
    -> ``PATH.csv``, nexmon payloads -> ``PATH.pcap`` (libpcap, the packet
    time as record time, nexmon_csi's Ethernet / IPv4 / UDP headers).

    Args:
        prefix (str): Output path without extension.
    """

    EXTS = dict(intel5300='.dat', esp32='.csv', nexmon='.pcap')

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.path: Optional[str] = None
        self.fmt: Optional[str] = None
        self.f = None
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, fmt: str, item, packet: CSIPacket) -> None:
        with self._lock:
            if self.f is None:
                self.fmt, self.path = fmt, self.prefix + self.EXTS[fmt]
                self.f = open(self.path, 'wb')
                if fmt == 'nexmon':
                    self.f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
            elif fmt != self.fmt:
                return
            if fmt == 'intel5300':
                self.f.write(struct.pack('>H', len(item)) + item)
            elif fmt == 'esp32':
                self.f.write((item.strip() + '\n').encode())
            else:
                stamp, payload = item
                size = _UDP_HEADERS + len(payload)
                self.f.write(struct.pack('<IIII', stamp // 1000000, stamp % 1000000, size,
                                         size) + _udp_headers(len(payload)) + payload)
            self.count += 1

    def close(self) -> None:
        with self._lock:
            if self.f is not None:
                self.f.close()


def open_source(uri: str, fmt: str = 'auto', chip: str = '4358',
                stats: Optional[StreamStats] = None) -> CSISource:
    """Open a source from its URI.

    ``udp://HOST:PORT``, ``serial://DEVICE?baud=B``, ``stdin:`` (or
    ``-``), ``follow:FILE[?from=end]``, ``replay:FILE[?speed=F&loop=1]``.

    Raises:
        ValueError: An unknown scheme or a bad argument (naming the URI).
    """
    if uri in ('-', 'stdin', 'stdin:'):
        return StdinSource(stats)
    scheme = uri.split(':', 1)[0] if ':' in uri else ''
    if scheme not in SOURCE_KINDS:
        raise ValueError(f'unknown CSI source {uri!r}; expected one of udp://HOST:PORT, '
                         'serial://DEVICE?baud=B, stdin:, follow:FILE, replay:FILE')
    rest = uri.split(':', 1)[1]
    if rest.startswith('//'):
        rest = rest[2:]
    path, _, query = rest.partition('?')
    args = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        if scheme == 'udp':
            url = urlparse(uri)
            return UDPSource(url.hostname or '0.0.0.0', url.port or 5500,
                             args.get('chip', chip), stats)
        if scheme == 'serial':
            return SerialSource(path, int(args.get('baud', 921600)), stats)
        if scheme == 'stdin':
            return StdinSource(stats)
        if scheme == 'follow':
            return FollowSource(path, args.get('format', fmt), args.get('from', 'start') ==
                                'start', chip=args.get('chip', chip), stats=stats)
        return ReplaySource(path, args.get('format', fmt), float(args.get('speed', 1.0)),
                            args.get('loop', '0') in ('1', 'true'), stats,
                            chip=args.get('chip', chip))
    except ValueError as err:
        if uri in str(err) or path in str(err):
            raise
        raise ValueError(f'CSI source {uri!r}: {err}') from err


class LiveCSIStream:
    """Read a source in a thread, cut frames with a windower, queue them.

    A source that delivers no packet for ``stall_timeout`` seconds is a
    stall: counted (``'stalls'``), logged with the source name and flagged
    in :attr:`stalled` until packets come again. The queue keeps the newest
    ``max_queue`` frames (older ones are counted as ``'frames_dropped_late'``:
    a live consumer wants the present); ``max_queue=0`` keeps all.

    Args:
        source (CSISource): The source.
        windower (StreamWindower): Frame cutter.
        stall_timeout (float): Seconds without packets that make a stall.
        max_queue (int): Frames kept for the consumer (0: unbounded).
    """

    def __init__(self, source: CSISource, windower, stall_timeout: float = 10.0,
                 max_queue: int = 2) -> None:
        self.source, self.windower = source, windower
        self.stats = source.stats
        self.stall_timeout = stall_timeout
        self.frames: Deque = deque(maxlen=max_queue or None)
        self.cond = threading.Condition()
        self.stop_event = threading.Event()
        self.stalled = False
        self.done = False
        self.error: Optional[BaseException] = None
        self.last_packet = time.perf_counter()
        #: CPU seconds the source thread used (reading, parsing, windowing), set when it ends
        self.cpu_seconds = 0.0
        self.thread = threading.Thread(target=self._run, name='csi-source', daemon=True)

    def start(self) -> 'LiveCSIStream':
        self.last_packet = time.perf_counter()
        self.thread.start()
        return self

    def _put(self, frames: list) -> None:
        if not frames:
            return
        with self.cond:
            for frame in frames:
                if self.frames.maxlen and len(self.frames) == self.frames.maxlen:
                    self.stats.count('frames_dropped_late', log=False)
                self.frames.append(frame)
            self.cond.notify_all()

    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                packets = self.source.read(0.05)
                now = time.perf_counter()
                if packets:
                    if self.stalled:
                        self.stats.count('resumed', f'{self.source.name}: packets again after '
                                         f'{now - self.last_packet:.1f} s')
                        self.stalled = False
                    self.last_packet = now
                    for pkt in packets:
                        self._put(self.windower.push(pkt.time, pkt.csi, pkt.arrival))
                elif not self.stalled and now - self.last_packet >= self.stall_timeout:
                    self.stalled = True
                    self.stats.count('stalls', f'{self.source.name}: no packets for '
                                     f'{now - self.last_packet:.1f} s')
                if self.source.finished:
                    self._put(self.windower.flush())
                    break
        except BaseException as err:  # reported by get(); the thread must not die silently
            self.error = err
            print_log(f'{self.source.name}: source stopped: {err!r}', logger='current',
                      level=logging.ERROR)
        finally:
            self.cpu_seconds = time.thread_time()
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def get(self, timeout: float = 0.1):
        """The oldest queued frame, or None after ``timeout`` / at the end."""
        with self.cond:
            if not self.frames and not self.done:
                self.cond.wait(timeout)
            return self.frames.popleft() if self.frames else None

    @property
    def finished(self) -> bool:
        """The source ended (or failed) and every frame was taken."""
        return self.done and not self.frames

    def counters(self) -> Dict[str, int]:
        """Source and windower counters together."""
        counts = dict(self.windower.counts)
        counts.update(self.stats.snapshot())
        counts['stalled_now'] = int(self.stalled)
        return counts

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2.0)
        self.source.close()


# ---------------------------------------------------------------- sending a capture


def capture_records(path: str, fmt: str = 'auto') -> Tuple[str, List[Tuple[float, bytes]]]:
    """The records of a finished capture as its hardware sends them.

    Returns:
        tuple: The format and a list of (capture time in seconds, bytes):
        Intel 5300 records with their 2-byte length (as ``log_to_file``
        writes them), ESP32 ``CSI_DATA`` lines with ``\\n``, nexmon UDP
        payloads. Times are those :func:`read_csi_capture` gives.
    """
    if fmt == 'auto':
        fmt = detect_format(path)
    if fmt not in FOLLOW_FORMATS:
        raise ValueError(f'{path}: records of {fmt!r} captures cannot be sent; formats: '
                         f'{FOLLOW_FORMATS}')
    with open(path, 'rb') as f:
        buf = f.read()
    stats = StreamStats(path)
    clock = TickClock(None if fmt == 'nexmon' else NIC_CLOCK_PERIOD_US)
    out = []
    if fmt == 'intel5300':
        pos = 0
        while pos + 3 <= len(buf):
            flen = struct.unpack('>H', buf[pos:pos + 2])[0]
            rec = buf[pos:pos + 2 + flen]
            if len(rec) < 2 + flen:
                break
            if rec[2] == 0xbb:
                out.append((clock.seconds(struct.unpack('<I', rec[3:7])[0]), rec))
            pos += 2 + flen
    elif fmt == 'esp32':
        for line in buf.decode('utf-8').splitlines():
            try:
                stamp, _ = parse_esp32_line(line)
            except PacketError:
                continue
            out.append((clock.seconds(stamp), (line.strip() + '\n').encode()))
    else:
        for stamp, payload in _PcapFramer(stats).feed(buf):
            out.append((clock.seconds(stamp), payload))
    return fmt, out


def replay_records(records: List[Tuple[float, bytes]], send: Callable[[bytes], None],
                   speed: float = 1.0, stop: Optional[threading.Event] = None) -> int:
    """Call ``send(bytes)`` for every record at its capture time / ``speed``.

    Returns:
        int: Records sent (fewer when ``stop`` was set).
    """
    if not records:
        return 0
    start, t0 = time.perf_counter(), records[0][0]
    for i, (t, data) in enumerate(records):
        if stop is not None and stop.is_set():
            return i
        wait = start + (t - t0) / speed - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        send(data)
    return len(records)


__all__ = [
    'CAPTURE_FORMATS', 'CaptureWriter', 'CSIPacket', 'CSISource', 'FollowSource', 'LiveCSIStream',
    'PacketError', 'ReplaySource',
    'SerialSource', 'StdinSource', 'StreamStats', 'TickClock', 'UDPSource', 'capture_records',
    'check_intel_record', 'open_source', 'parse_esp32_line', 'replay_records'
]
