# Copyright (c) mmdensekd contributors. All rights reserved.
"""The live CSI sources behind one interface (``read(timeout)`` ->
packets, ``close()``) and :func:`open_source`, which opens one from its URI."""
import os
import os.path as osp
import select
import socket
import struct
import sys
import time
from typing import Callable, List, Optional
from urllib.parse import parse_qs, urlparse

import numpy as np

from ..csi_capture import detect_format, read_csi_capture
from .framers import _Decoder
from .packets import FOLLOW_FORMATS, CSIPacket, PacketError, StreamStats, TickClock
from .parsers import _Parsers
from .recording import _as_item, capture_records

#: Sources that :func:`open_source` accepts.
SOURCE_KINDS = ('udp', 'serial', 'stdin', 'follow', 'replay')


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
