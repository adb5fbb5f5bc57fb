# Copyright (c) mmdensekd contributors. All rights reserved.
"""What every live CSI source shares: the packet, its errors, the counters
of unusable input and the NIC clock unwrapping."""
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional

import numpy as np
from mmengine.logging import print_log

from ..csi_capture import NIC_CLOCK_PERIOD_US

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
