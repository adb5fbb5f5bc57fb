# Copyright (c) mmdensekd contributors. All rights reserved.
"""A finished capture as its hardware sends it (:func:`capture_records`,
:func:`replay_records`) and tapped packets written back as a capture file
(:class:`CaptureWriter`)."""
import struct
import threading
import time
from typing import Callable, List, Optional, Tuple

from ..csi_capture import NIC_CLOCK_PERIOD_US, detect_format
from .framers import _PcapFramer
from .packets import _UDP_HEADERS, FOLLOW_FORMATS, CSIPacket, PacketError, StreamStats, TickClock
from .parsers import parse_esp32_line


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
