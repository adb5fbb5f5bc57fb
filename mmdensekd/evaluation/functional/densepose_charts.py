# Copyright (c) mmdensekd contributors. All rights reserved.
"""Reading the base64 PNG charts (``uv_data``) of DensePose results for the
evaluation.

:func:`~mmdensekd.structures.decode_iuv_png` returns a contiguous (3, h, w)
array: a transposed copy of the (h, w, 3) image that costs about a third of
the decoding itself. The evaluation reads a few pixels and the foreground
of each chart, so it keeps the decoded image as it is (a channel-reversed
view, no copy). Charts that cannot change a number are not decoded; their
PNG structure is still checked (:func:`chart_header_ok`).
"""
import base64
import binascii
import struct

import cv2
import numpy as np

from mmdensekd.structures import decode_iuv_png


def decode_chart_hwc(data) -> np.ndarray:
    """Decode a base64 PNG IUV chart into an (h, w, 3) array of channels I,
    U, V (a view; the transpose of ``decode_iuv_png``'s array).

    Args:
        data (str | bytes): The ``uv_data`` of a result.

    Returns:
        np.ndarray: (h, w, 3), uint8 for the charts of the results format.

    Raises:
        ValueError: As :func:`~mmdensekd.structures.decode_iuv_png` (not
            base64, not a decodable PNG, one channel), with its message.
    """
    try:
        # binascii directly: base64.b64decode would first copy a str to bytes
        buf = np.frombuffer(binascii.a2b_base64(data), dtype=np.uint8)
    except (ValueError, TypeError):
        buf = None
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf is not None and buf.size else None
    if img is None or img.ndim != 3:
        # the message (and any other outcome) of the reference decoder
        return decode_iuv_png(data).transpose(1, 2, 0)
    return img[:, :, 2::-1]


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_IEND_CHUNK = b'\x00\x00\x00\x00IEND\xaeB`\x82'


def chart_header_ok(data, uv_shape=None) -> bool:
    """A cheap check of a chart that is not decoded: base64 text of a PNG
    that starts with its signature and header, ends with its end chunk (not
    truncated) and, with ``uv_shape`` = [3, h, w], is h x w.

    Args:
        data (str | bytes): The ``uv_data`` of a result.
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
