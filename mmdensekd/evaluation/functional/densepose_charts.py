# Copyright (c) mmdensekd contributors. All rights reserved.
"""Reading the base64 PNG charts (``uv_data``) of DensePose results for the
evaluation.

The evaluation reads a few pixels (I, U, V at ground-truth points) and the
foreground (I > 0) of each chart, never the whole (3, h, w) array that
:func:`~mmdensekd.structures.decode_iuv_png` builds. :func:`read_chart`
returns a :class:`Chart` that gives just these:

* the plain PNG our results are written as (8-bit RGB, not interlaced, only
  IHDR / IDAT / IEND chunks with correct CRCs, every scanline filtered with
  None or Sub, as ``cv2.imencode`` writes a chart) is inflated in one call
  and left filtered; the I channel is unfiltered as row prefix sums (one
  summed-area table), U and V only at the sampled pixels;
* any other PNG, and anything unexpected (a bad CRC, another filter, a
  truncated stream), goes through the reference decoder, which gives the
  same array or the same error.

Both give exactly the values of the reference decoder
(``tests/test_evaluation/test_eval_readers.py`` checks them on charts of
every filter mix). Charts that cannot change a number are not decoded;
their PNG structure is still checked (:func:`chart_header_ok`).
"""
import base64
import binascii
import struct
import sys
import zlib
from typing import Optional

import cv2
import numpy as np

try:  # ISA-L's inflate: the same streams, results and errors, ~2x zlib's rate
    from isal.isal_zlib import decompress as _inflate
    from isal.isal_zlib import error as _InflateError
except ImportError:  # pragma: no cover - isal is a runtime requirement
    from zlib import decompress as _inflate
    from zlib import error as _InflateError

from mmdensekd.structures import decode_iuv_png

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_IEND_CHUNK = b'\x00\x00\x00\x00IEND\xaeB`\x82'
#: IHDR after width and height: bit depth 8, RGB, deflate, filter method 0,
#: no interlace.
_PLAIN_RGB8 = bytes((8, 2, 0, 0, 0))
#: Largest h * w whose int32 summed-area table of uint8 rows cannot overflow.
_INT32_PIXELS = (2**31 - 1) // 255
#: Position of an int32's low byte in memory.
_LOW_BYTE = 0 if sys.byteorder == 'little' else 3


class Chart:
    """A decoded chart: its size, foreground labels and pixel samples.

    Args:
        hwc (np.ndarray): (h, w, 3) array of channels I, U, V.
    """

    def __init__(self, hwc: np.ndarray) -> None:
        self._hwc = hwc
        self.height, self.width = int(hwc.shape[0]), int(hwc.shape[1])

    @property
    def num_channels(self) -> int:
        """Channels of the chart (3 for an IUV chart)."""
        return int(self._hwc.shape[2]) if self._hwc.ndim == 3 else 1

    def labels(self) -> np.ndarray:
        """(h, w) uint8 part labels I (a view or a cached array)."""
        return self._hwc[:, :, 0]

    def foreground(self) -> np.ndarray:
        """(h, w) bool: I > 0."""
        return self.labels() > 0

    def sample(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(3, P) uint8 I, U, V at pixels (``rows``, ``cols``), inside the
        chart."""
        return self._hwc[rows, cols].T

    def hwc(self) -> np.ndarray:
        """The (h, w, 3) array of channels I, U, V."""
        return self._hwc


class ScanlineChart(Chart):
    """A plain 8-bit RGB PNG chart kept as its inflated, still filtered
    scanlines (filter None or Sub on every row).

    Sub stores each byte minus the byte one pixel to the left (mod 256), so
    a pixel is the sum of its row's stored bytes up to it, mod 256: a
    summed-area table of the stored bytes gives any pixel with two look-ups
    (int32 sums, exact; their low byte is the pixel).

    Args:
        rows (np.ndarray): (h, 1 + 3 w) uint8 scanlines, filter byte first.
        width (int): w.
    """

    def __init__(self, rows: np.ndarray, width: int) -> None:
        self._rows = rows
        self.height, self.width = int(rows.shape[0]), int(width)
        self._sub = rows[:, 0] == 1  # rows filtered with Sub (others: None)
        self._all_sub = bool(self._sub.all())
        self._labels: Optional[np.ndarray] = None
        self._table: Optional[np.ndarray] = None

    @property
    def num_channels(self) -> int:
        return 3

    def _stored(self) -> np.ndarray:
        """(h, w, 3) stored bytes (a view)."""
        return self._rows[:, 1:].reshape(self.height, self.width, 3)

    def _summed(self, stored: np.ndarray) -> Optional[np.ndarray]:
        """Summed-area table (h + 1, w + 1[, c]) of (h, w[, c]) stored
        bytes, None where int32 sums could overflow."""
        if self.height * self.width > _INT32_PIXELS:
            return None
        return cv2.integral(stored)

    def _unfilter_rows(self, values: np.ndarray, stored: np.ndarray) -> np.ndarray:
        """``values`` (row prefix sums) with the rows filtered with None
        set to their stored bytes."""
        if not self._all_sub:
            values[~self._sub] = stored[~self._sub]
        return values

    def labels(self) -> np.ndarray:
        if self._labels is None:
            stored = self._rows[:, 1::3]
            if not self._sub.any():
                self._labels = stored
            else:
                table = self._table[:, :, 0] if self._table is not None else \
                    self._summed(stored)
                labels = ((table[1:, 1:] - table[:-1, 1:]).astype(np.uint8)
                          if table is not None else np.cumsum(stored, axis=1, dtype=np.uint8))
                self._labels = self._unfilter_rows(labels, stored)
        return self._labels

    def foreground(self) -> np.ndarray:
        if self._labels is not None or self._table is None:
            return self.labels() != 0
        # I > 0 where the low bytes of the row's sums up to x and x - 1 differ
        low = self._table.view(np.uint8)[:, :, _LOW_BYTE]  # channel 0's low byte
        fg = low[1:, 1:] != low[:-1, 1:]
        if not self._all_sub:
            fg[~self._sub] = self._rows[~self._sub, 1::3] != 0
        return fg

    def sample(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        stored = self._stored()
        if self._table is None and self._sub.any():
            self._table = self._summed(stored)
        if self._table is None:
            values = self.hwc()[rows, cols]
        else:
            values = (self._table[rows + 1, cols + 1] - self._table[rows, cols + 1]).astype(
                np.uint8)
            if not self._all_sub:
                plain = ~self._sub[rows]
                values[plain] = stored[rows[plain], cols[plain]]
        return values.T

    def hwc(self) -> np.ndarray:
        stored = self._stored()
        if not self._sub.any():
            return stored
        table = self._summed(stored)
        values = ((table[1:, 1:] - table[:-1, 1:]).astype(np.uint8) if table is not None else
                  np.cumsum(stored, axis=1, dtype=np.uint8))
        return self._unfilter_rows(values, stored)


def _b64_bytes(data) -> Optional[bytes]:
    """The PNG bytes of base64 text (str or bytes-like), None if not base64."""
    try:
        # binascii directly: base64.b64decode would first copy a str to bytes
        return binascii.a2b_base64(data)
    except (ValueError, TypeError):
        return None


def _plain_scanlines(png: bytes) -> Optional[ScanlineChart]:
    """The :class:`ScanlineChart` of a plain 8-bit RGB PNG as written by
    ``cv2.imencode``, or None for any other or damaged PNG (the reference
    decoder then decides)."""
    if (len(png) < 57 or not png.startswith(_PNG_SIGNATURE) or png[8:16] != b'\x00\x00\x00\rIHDR'
            or png[24:29] != _PLAIN_RGB8):
        return None
    width, height = struct.unpack_from('>II', png, 16)
    if not width or not height or width > 2**24 or height > 2**24:
        return None
    view = memoryview(png)
    parts = []
    pos = 8
    while True:
        if pos + 12 > len(png):
            return None
        size, kind = struct.unpack_from('>I4s', png, pos)
        end = pos + 12 + size
        if end > len(png) or zlib.crc32(view[pos + 4:end - 4]) != struct.unpack_from(
                '>I', png, end - 4)[0]:
            return None
        if kind == b'IDAT':
            parts.append(view[pos + 8:end - 4])
        elif kind == b'IEND':
            if size or end != len(png) or not parts:
                return None
            break
        elif kind != b'IHDR' or pos != 8:
            return None  # another chunk: left to the reference decoder
        pos = end
    stride = 3 * width + 1
    try:
        # the first buffer at most 64 MiB: a header's size is not allocated
        # before the stream proves it
        raw = _inflate(parts[0] if len(parts) == 1 else b''.join(parts), 15,
                       min(height * stride, 1 << 26))
    except _InflateError:
        return None
    if len(raw) != height * stride:
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride)
    if (rows[:, 0] > 1).any():  # Up, Average or Paeth rows
        return None
    return ScanlineChart(rows, width)


def read_chart(data) -> Chart:
    """Read a base64 PNG IUV chart for the evaluation.

    Args:
        data (str | bytes-like): The ``uv_data`` of a result.

    Returns:
        Chart: a :class:`ScanlineChart` for the plain PNG of our results,
        else the reference decoder's array as a :class:`Chart`.

    Raises:
        ValueError: As :func:`~mmdensekd.structures.decode_iuv_png` (not
            base64, not a decodable PNG, one channel), with its message;
            also for base64 text of no bytes at all.
    """
    png = _b64_bytes(data)
    chart = _plain_scanlines(png) if png else None
    return chart if chart is not None else Chart(decode_chart_hwc(data))


def decode_chart_hwc(data) -> np.ndarray:
    """Decode a base64 PNG IUV chart into an (h, w, 3) array of channels I,
    U, V (a view; the transpose of ``decode_iuv_png``'s array).

    Args:
        data (str | bytes-like): The ``uv_data`` of a result.

    Returns:
        np.ndarray: (h, w, 3), uint8 for the charts of the results format.

    Raises:
        ValueError: As :func:`~mmdensekd.structures.decode_iuv_png` (not
            base64, not a decodable PNG, one channel), with its message;
            also for base64 text of no bytes at all.
    """
    png = _b64_bytes(data)
    if png == b'':  # the reference decoder's cv2.imdecode would fail an assertion
        raise ValueError('uv_data is empty (no PNG image)')
    buf = np.frombuffer(png, dtype=np.uint8) if png else None
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf is not None else None
    if img is None or img.ndim != 3:
        # the message (and any other outcome) of the reference decoder
        return decode_iuv_png(data).transpose(1, 2, 0)
    return img[:, :, 2::-1]


def chart_header_ok(data, uv_shape=None) -> bool:
    """A cheap check of a chart that is not decoded: base64 text of a PNG
    that starts with its signature and header, ends with its end chunk (not
    truncated) and, with ``uv_shape`` = [3, h, w], is h x w.

    Args:
        data (str | bytes-like): The ``uv_data`` of a result.
        uv_shape (Sequence[int], optional): The result's ``uv_shape``.

    Returns:
        bool: False when the chart is certainly unreadable or of another
        size (decode it for the message).
    """
    try:
        png = base64.b64decode(data)
    except (ValueError, TypeError):
        return False
    if (len(png) < 45 or not png.startswith(_PNG_SIGNATURE) or png[12:16] != b'IHDR'
            or not png.endswith(_IEND_CHUNK)):
        return False
    width, height = struct.unpack_from('>II', png, 16)
    if uv_shape is not None:
        try:
            return [int(c) for c in uv_shape] == [3, height, width]
        except (TypeError, ValueError):
            return False
    return True
