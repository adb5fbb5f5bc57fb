# Copyright (c) mmdensekd contributors. All rights reserved.
"""A live source read in a thread and cut into frames (:class:`LiveCSIStream`)."""
import logging
import threading
import time
from collections import deque
from typing import Deque, Dict, Optional

from mmengine.logging import print_log

from .sources import CSISource


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
