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

Modules: :mod:`.packets` (packet, counters, clock), :mod:`.parsers`
(payloads), :mod:`.framers` (byte streams -> packets), :mod:`.sources` (the
sources and :func:`open_source`), :mod:`.stream` (threaded windowing) and
:mod:`.recording` (sending and writing captures).
"""
from ..csi_capture import CAPTURE_FORMATS
from .packets import (
    ESP32_FIELDS,
    ESP32_TIME_FIELD,
    FOLLOW_FORMATS,
    CSIPacket,
    PacketError,
    StreamStats,
    TickClock,
)
from .parsers import check_intel_record, parse_esp32_line
from .recording import CaptureWriter, capture_records, replay_records
from .sources import (
    SOURCE_KINDS,
    CSISource,
    FollowSource,
    ReplaySource,
    SerialSource,
    StdinSource,
    UDPSource,
    open_source,
)
from .stream import LiveCSIStream

__all__ = [
    'CAPTURE_FORMATS', 'CaptureWriter', 'CSIPacket', 'CSISource', 'ESP32_FIELDS',
    'ESP32_TIME_FIELD', 'FOLLOW_FORMATS', 'FollowSource', 'LiveCSIStream', 'PacketError',
    'ReplaySource', 'SOURCE_KINDS', 'SerialSource', 'StdinSource', 'StreamStats', 'TickClock',
    'UDPSource', 'capture_records', 'check_intel_record', 'open_source', 'parse_esp32_line',
    'replay_records'
]
