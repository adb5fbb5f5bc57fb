# Copyright (c) mmdensekd contributors. All rights reserved.
"""The IUV encoding of the COCO DensePose challenge results format.

A result carries ``uv_shape = [3, h, w]`` and ``uv_data``: the base64 text of
a PNG image whose RGB channels are I (fine part 0..24), U*255 and V*255 over
the detected box.
"""
import base64

import cv2
import numpy as np


def encode_iuv_png(iuv: np.ndarray) -> str:
    """Encode a (3, h, w) uint8 IUV array as base64 PNG text (RGB order)."""
    iuv = np.asarray(iuv)
    if iuv.ndim != 3 or iuv.shape[0] != 3:
        raise ValueError(f'expected a (3, h, w) IUV array, got shape {iuv.shape}')
    # OpenCV writes BGR: reverse so that channel 0 (I) lands in R.
    bgr = np.ascontiguousarray(iuv.astype(np.uint8).transpose(1, 2, 0)[:, :, ::-1])
    ok, buf = cv2.imencode('.png', bgr)
    if not ok:
        raise RuntimeError('PNG encoding of an IUV map failed')
    return base64.b64encode(buf.tobytes()).decode('ascii')


def decode_iuv_png(data: str) -> np.ndarray:
    """Decode base64 PNG text into a (3, h, w) uint8 IUV array."""
    try:
        buf = np.frombuffer(base64.b64decode(data), dtype=np.uint8)
    except (ValueError, TypeError) as e:
        raise ValueError(f'uv_data is not valid base64: {e}') from e
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError('uv_data is not a decodable PNG image')
    if img.ndim == 2:
        raise ValueError('uv_data PNG has one channel, expected 3 (I, U, V)')
    return np.ascontiguousarray(img[:, :, 2::-1].transpose(2, 0, 1))
