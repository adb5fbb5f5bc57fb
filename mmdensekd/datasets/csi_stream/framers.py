# Copyright (c) mmdensekd contributors. All rights reserved.
"""Byte streams -> framed records (lines, ``log_to_file`` records, pcap
records) -> :class:`~.packets.CSIPacket` s, bad input counted."""
import struct
import time
from typing import Callable, List, Optional, Tuple

from ..csi_capture import NIC_CLOCK_PERIOD_US
from .packets import (
    _MAX_LINE,
    _PCAP_MAGICS,
    _PCAP_NANO,
    _UDP_HEADERS,
    FOLLOW_FORMATS,
    CSIPacket,
    PacketError,
    StreamStats,
    TickClock,
)
from .parsers import _Parsers, check_intel_record, parse_esp32_line


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
