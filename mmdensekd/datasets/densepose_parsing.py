# Copyright (c) mmdensekd contributors. All rights reserved.
"""Parsing and validation of the DensePose fields of a COCO annotation.

DensePose-COCO adds to a person annotation:

* ``dp_x``, ``dp_y``: point positions in the box scaled to 256x256
  (``x_img = x0 + dp_x * w / 256``), in ``[0, 256]``;
* ``dp_I``: fine part label of each point, an integer in 1..24;
* ``dp_U``, ``dp_V``: chart coordinates of each point, in ``[0, 1]``;
* ``dp_masks``: 14 coarse part masks as COCO RLE of size 256x256 in the box
  frame; an empty entry means the part is absent.
"""
from typing import List, Optional, Tuple

import numpy as np

from mmdensekd.structures import DP_BOX_SIZE, NUM_COARSE_PARTS, NUM_FINE_PARTS

#: Keys of the per-point DensePose arrays, in the column order of the
#: ``(P, 5)`` point arrays used everywhere else.
DP_POINT_KEYS = ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')


def rle_run_lengths(counts) -> np.ndarray:
    """Decode the run lengths of a compressed COCO RLE string (vectorised).

    The COCO compressed format stores each run length as 5-bit chunks offset by
    48 in ASCII, least significant chunk first, bit 0x20 meaning "another
    chunk follows" and bit 0x10 of the last chunk the sign; from the fourth
    value on, each value is a difference to the value two places before.
    Decoding here (instead of with ``pycocotools``) lets a malformed string be
    rejected before ``pycocotools.mask.decode``, which does not check that the
    runs fit the mask.

    Args:
        counts (str | bytes): The ``counts`` field of a compressed RLE.

    Returns:
        np.ndarray: (R,) int64 run lengths, alternately background and
        foreground, column-major (Fortran) order.

    Raises:
        ValueError: If a character is outside the alphabet or the string is
            truncated.
    """
    if isinstance(counts, str):
        counts = counts.encode('ascii', errors='replace')
    chunks = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if chunks.size == 0:
        return np.zeros(0, dtype=np.int64)
    if (chunks < 0).any() or (chunks > 63).any():
        raise ValueError('character outside the RLE alphabet')
    more = (chunks & 0x20) != 0
    if more[-1]:
        raise ValueError('truncated string')
    ends = np.flatnonzero(~more)
    starts = np.concatenate([[0], ends[:-1] + 1])
    num_chunks = ends - starts + 1
    if num_chunks.max() > 11:
        raise ValueError('run length too long')
    position = np.arange(len(chunks)) - np.repeat(starts, num_chunks)
    values = np.add.reduceat((chunks & 0x1F) << (5 * position), starts)
    negative = (chunks[ends] & 0x10) != 0
    values = values - np.where(negative, np.left_shift(1, 5 * num_chunks), 0)
    # values[m] (m >= 3) is stored as a difference to values[m - 2]
    values[1::2] = np.cumsum(values[1::2])
    values[2::2] = np.cumsum(values[2::2])
    return values


def _check_rle(rle, index: int, where: str) -> Optional[dict]:
    """Validate one entry of ``dp_masks``; return None for an absent part."""
    if rle is None or (isinstance(rle, (list, dict)) and len(rle) == 0):
        return None
    if not isinstance(rle, dict) or 'size' not in rle or 'counts' not in rle:
        raise ValueError(f'{where}: dp_masks[{index}] must be a COCO RLE dict with '
                         f"'size' and 'counts' (or empty), got {type(rle).__name__}")
    size = list(rle['size'])
    if size != [DP_BOX_SIZE, DP_BOX_SIZE]:
        raise ValueError(f'{where}: dp_masks[{index}] has size {size}, expected '
                         f'[{DP_BOX_SIZE}, {DP_BOX_SIZE}] (the DensePose box frame)')
    counts = rle['counts']
    if isinstance(counts, list):
        # Uncompressed RLE: run lengths must cover exactly the 256x256 frame.
        if (not all(isinstance(c, (int, np.integer)) and c >= 0 for c in counts)
                or sum(counts) != DP_BOX_SIZE * DP_BOX_SIZE):
            raise ValueError(f'{where}: dp_masks[{index}] is a malformed uncompressed '
                             f'RLE (run lengths must be non-negative integers summing '
                             f'to {DP_BOX_SIZE * DP_BOX_SIZE})')
    elif isinstance(counts, (str, bytes)):
        try:
            runs = rle_run_lengths(counts)
        except ValueError as err:
            raise ValueError(f'{where}: dp_masks[{index}] is a malformed RLE ({err})') \
                from err
        if (runs < 0).any() or runs.sum() != DP_BOX_SIZE * DP_BOX_SIZE:
            raise ValueError(f'{where}: dp_masks[{index}] is a malformed RLE (run lengths '
                             f'sum to {int(runs.sum())}, expected '
                             f'{DP_BOX_SIZE * DP_BOX_SIZE})')
    else:
        raise ValueError(f"{where}: dp_masks[{index}]['counts'] must be a string or a "
                         f'list of run lengths, got {type(counts).__name__}')
    return rle


def parse_densepose(ann: dict, where: str) -> Tuple[Optional[dict], Optional[List]]:
    """Read and validate the DensePose fields of one COCO annotation.

    Args:
        ann (dict): A raw COCO annotation.
        where (str): Location used in error messages, e.g.
            ``'ann.json: image id 785, annotation id 442619'``.

    Returns:
        tuple: ``(dp, dp_masks)``. ``dp`` is None when the annotation has no
        DensePose points, else a dict with float64 arrays ``x, y, I, U, V`` of
        shape (P,). ``dp_masks`` is None when absent, else a list of 14
        entries, each a COCO RLE dict or None (part absent).

    Raises:
        ValueError: On arrays of unequal length, partial point fields, ``I``
            outside 1..24 or not integer valued, ``U``/``V`` outside [0, 1],
            ``x``/``y`` outside [0, 256], a mask list whose length is not 14 or
            a malformed RLE. The message starts with ``where``.
    """
    present = [key for key in DP_POINT_KEYS if key in ann]
    dp = None
    if present:
        if len(present) != len(DP_POINT_KEYS):
            missing = [key for key in DP_POINT_KEYS if key not in ann]
            raise ValueError(f'{where}: incomplete DensePose points, missing {missing}')
        arrays = {}
        for key in DP_POINT_KEYS:
            try:
                arrays[key] = np.asarray(ann[key], dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as err:
                raise ValueError(f'{where}: {key} is not a list of numbers ({err})') \
                    from err
        lengths = {key: len(value) for key, value in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f'{where}: DensePose arrays of unequal length {lengths}')
        for key, value in arrays.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(f'{where}: {key} contains NaN or infinite values')
        labels = arrays['dp_I']
        bad = (labels < 1) | (labels > NUM_FINE_PARTS) | (labels != np.round(labels))
        if bad.any():
            raise ValueError(f'{where}: dp_I must be integers in 1..{NUM_FINE_PARTS}, '
                             f'got {labels[bad][:5].tolist()}')
        for key in ('dp_U', 'dp_V'):
            value = arrays[key]
            bad = (value < 0) | (value > 1)
            if bad.any():
                raise ValueError(f'{where}: {key} must lie in [0, 1], got '
                                 f'{value[bad][:5].tolist()}')
        for key in ('dp_x', 'dp_y'):
            value = arrays[key]
            bad = (value < 0) | (value > DP_BOX_SIZE)
            if bad.any():
                raise ValueError(f'{where}: {key} must lie in [0, {DP_BOX_SIZE}] (box '
                                 f'frame), got {value[bad][:5].tolist()}')
        dp = dict(x=arrays['dp_x'], y=arrays['dp_y'], I=labels, U=arrays['dp_U'],
                  V=arrays['dp_V'])

    masks = None
    if ann.get('dp_masks', None) is not None:
        raw = ann['dp_masks']
        if not isinstance(raw, (list, tuple)) or len(raw) != NUM_COARSE_PARTS:
            length = len(raw) if isinstance(raw, (list, tuple)) else type(raw).__name__
            raise ValueError(f'{where}: dp_masks must be a list of {NUM_COARSE_PARTS} '
                             f'RLE entries, got {length}')
        masks = [_check_rle(rle, i, where) for i, rle in enumerate(raw)]
    return dp, masks
