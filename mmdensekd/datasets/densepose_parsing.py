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
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mmdensekd.structures import DP_BOX_SIZE, NUM_COARSE_PARTS, NUM_FINE_PARTS

#: Keys of the per-point DensePose arrays, in the column order of the
#: ``(P, 5)`` point arrays used everywhere else.
DP_POINT_KEYS = ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')

#: Optional per-point U/V variance (a confidence teacher's ``sigma_2`` written
#: into pseudo-labels by tools/misc/generate_pseudo_labels.py); it becomes
#: the sixth column of the point arrays.
DP_VARIANCE_KEY = 'dp_sigma_2'


def check_point_variances(values, num_points: int, where: str) -> np.ndarray:
    """Validate the per-point U/V variances ``dp_sigma_2`` of an annotation.

    Args:
        values: The ``dp_sigma_2`` field (one number per point).
        num_points (int): Number of points (length of ``dp_x``).
        where (str): Location for error messages (file, image and annotation
            id).

    Returns:
        np.ndarray: (P,) float64 variances, all finite and > 0.

    Raises:
        ValueError: When the field is not a list of numbers, its length is not
            ``num_points`` or a value is not finite or not positive.
    """
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{where}: {DP_VARIANCE_KEY} is not a list of numbers ({err})') \
            from err
    if len(arr) != num_points:
        raise ValueError(f'{where}: {DP_VARIANCE_KEY} has {len(arr)} values for {num_points} '
                         'DensePose points (one variance per point)')
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise ValueError(f'{where}: {DP_VARIANCE_KEY} must hold finite variances > 0, got '
                         f'{arr[bad][:5].tolist()}')
    return arr


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


def _compressed_rles_ok(strings: List[bytes], block: int = 1 << 18) -> bool:
    """Whether every compressed RLE string is well formed and covers the
    256x256 frame exactly, the strings decoded together, vectorised.

    The same checks as :func:`rle_run_lengths` plus the run-length sum of
    :func:`_check_rle`, on concatenated strings (about ``block`` characters
    at a time): each string's value chain (a value from the fourth on is a
    difference to the value two places before) restarts at its first value.
    False means some string is bad; the caller then checks them one by one
    for the message.
    """
    lengths = np.array([len(s) for s in strings], dtype=np.int64)
    if (lengths == 0).any():
        return False
    first = 0
    while first < len(strings):
        # strings [first, last) hold about ``block`` characters
        last = first + max(1, int(np.searchsorted(np.cumsum(lengths[first:]), block)))
        if not _rle_block_ok(b''.join(strings[first:last]), lengths[first:last]):
            return False
        first = last
    return True


def _rle_block_ok(joined: bytes, lengths: np.ndarray) -> bool:
    """:func:`_compressed_rles_ok` of the concatenated strings ``joined``
    (string lengths ``lengths``)."""
    chars = np.frombuffer(joined, dtype=np.uint8)
    if ((chars < 48) | (chars > 111)).any():  # outside the RLE alphabet
        return False
    chunks = chars - np.uint8(48)
    more = (chunks & 0x20) != 0
    if more[np.cumsum(lengths) - 1].any():  # a string ends inside a value
        return False
    ends = np.flatnonzero(~more)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    num_chunks = ends - starts + 1
    if num_chunks.max() > 11:
        return False
    # 5-bit chunks, least significant first
    values = (chunks[starts] & 0x1F).astype(np.int64)
    for k in range(1, int(num_chunks.max())):
        sel = np.flatnonzero(num_chunks > k)
        values[sel] |= (chunks[starts[sel] + k] & 0x1F).astype(np.int64) << (5 * k)
    negative = (chunks[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * num_chunks[negative])
    # string of each value, and the value's index m within its string
    first_chunk = np.cumsum(lengths) - lengths
    string_of = np.searchsorted(first_chunk, starts, side='right') - 1
    first_value = np.searchsorted(string_of, np.arange(len(lengths)))
    m = np.arange(len(values)) - first_value[string_of]
    runs = values.copy()
    for parity in (0, 1):  # values[m] += values[m - 2] for m > 2, per string
        chain = (m >= 1) & (m % 2 == parity)
        cum = np.cumsum(np.where(chain, values, 0))
        before = np.where(first_value > 0, cum[np.maximum(first_value - 1, 0)], 0)
        runs = np.where(chain, cum - before[string_of], runs)
    totals = np.add.reduceat(runs, first_value)
    return bool((runs >= 0).all() and (totals == DP_BOX_SIZE * DP_BOX_SIZE).all())


def check_dp_masks(raw, where: str) -> List[Optional[dict]]:
    """Validate the ``dp_masks`` field of an annotation.

    Args:
        raw: The ``dp_masks`` field (not None).
        where (str): Location used in error messages.

    Returns:
        list: 14 entries, each a COCO RLE dict or None (part absent).

    Raises:
        ValueError: Not a list of 14 entries, or an entry that is not a
            well-formed 256x256 RLE (the first such entry is named).
    """
    if not isinstance(raw, (list, tuple)) or len(raw) != NUM_COARSE_PARTS:
        length = len(raw) if isinstance(raw, (list, tuple)) else type(raw).__name__
        raise ValueError(f'{where}: dp_masks must be a list of {NUM_COARSE_PARTS} '
                         f'RLE entries, got {length}')
    # Fast path: the compressed 256x256 RLEs of DensePose-COCO, checked in one
    # pass; anything else (or a failure) goes through _check_rle entry by
    # entry, which gives the message naming the first bad entry.
    strings = []
    for rle in raw:
        if rle is None or (isinstance(rle, (list, dict)) and len(rle) == 0):
            continue
        if not (isinstance(rle, dict) and 'counts' in rle and isinstance(rle['counts'], str)
                and list(rle.get('size', ())) == [DP_BOX_SIZE, DP_BOX_SIZE]):
            strings = None
            break
        strings.append(rle['counts'].encode('ascii', errors='replace'))
    if strings is not None and (not strings or _compressed_rles_ok(strings)):
        return [None if rle is None or (isinstance(rle, (list, dict)) and len(rle) == 0)
                else rle for rle in raw]
    return [_check_rle(rle, i, where) for i, rle in enumerate(raw)]


def densepose_fields_valid(anns: Sequence[dict]) -> bool:
    """Whether :func:`parse_densepose` accepts every annotation of ``anns``,
    checked for all of them at once (a few vectorised passes instead of
    some sixty numpy calls per annotation).

    Only the common form is checked here: point fields that are flat lists
    of numbers and ``dp_masks`` of compressed 256x256 RLE strings (or empty
    entries), without ``dp_sigma_2``. False means "not known to be valid":
    the caller then parses annotation by annotation, which gives the error
    message (or the counted skip) naming the file and ids.

    Args:
        anns (Sequence[dict]): raw COCO annotations.

    Returns:
        bool: True when every annotation would pass :func:`parse_densepose`.
    """
    try:
        columns = {key: [] for key in DP_POINT_KEYS}
        strings = []
        for ann in anns:
            present = [key for key in DP_POINT_KEYS if key in ann]
            if present:
                if len(present) != len(DP_POINT_KEYS):
                    return False
                values = [ann[key] for key in DP_POINT_KEYS]
                if (any(type(v) is not list for v in values)
                        or len({len(v) for v in values}) != 1):
                    return False
                for key, value in zip(DP_POINT_KEYS, values):
                    columns[key].extend(value)
                if ann.get(DP_VARIANCE_KEY, None) is not None:
                    return False
            raw = ann.get('dp_masks', None)
            if raw is None:
                continue
            if type(raw) is not list or len(raw) != NUM_COARSE_PARTS:
                return False
            for rle in raw:
                if rle is None or (isinstance(rle, (list, dict)) and len(rle) == 0):
                    continue
                if not (type(rle) is dict and type(rle.get('counts')) is str
                        and type(rle.get('size')) is list
                        and rle['size'] == [DP_BOX_SIZE, DP_BOX_SIZE]):
                    return False
                strings.append(rle['counts'].encode('ascii', errors='replace'))
        total = len(columns['dp_x'])
        arrays = {}
        for key, value in columns.items():
            arrays[key] = np.asarray(value, dtype=np.float64)
            if arrays[key].shape != (total, ) or not np.isfinite(arrays[key]).all():
                return False
    except (TypeError, ValueError, AttributeError, OverflowError):
        return False
    labels = arrays['dp_I']
    if ((labels < 1) | (labels > NUM_FINE_PARTS) | (labels != np.round(labels))).any():
        return False
    for key, high in (('dp_U', 1), ('dp_V', 1), ('dp_x', DP_BOX_SIZE), ('dp_y', DP_BOX_SIZE)):
        if ((arrays[key] < 0) | (arrays[key] > high)).any():
            return False
    return not strings or _compressed_rles_ok(strings)


def parse_densepose(ann: dict, where: str) -> Tuple[Optional[dict], Optional[List]]:
    """Read and validate the DensePose fields of one COCO annotation.

    Args:
        ann (dict): A raw COCO annotation.
        where (str): Location used in error messages, e.g.
            ``'ann.json: image id 785, annotation id 442619'``.

    Returns:
        tuple: ``(dp, dp_masks)``. ``dp`` is None when the annotation has no
        DensePose points, else a dict with float64 arrays ``x, y, I, U, V`` of
        shape (P,), plus ``sigma_2`` when the annotation has ``dp_sigma_2``
        (see :func:`check_point_variances`). ``dp_masks`` is None when absent, else a list of 14
        entries, each a COCO RLE dict or None (part absent).

    Raises:
        ValueError: On arrays of unequal length, partial point fields, ``I``
            outside 1..24 or not integer valued, ``U``/``V`` outside [0, 1],
            ``x``/``y`` outside [0, 256], a mask list whose length is not 14 or
            a malformed RLE, or a bad ``dp_sigma_2``. The message starts with
            ``where``.
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
        if ann.get(DP_VARIANCE_KEY, None) is not None:
            dp['sigma_2'] = check_point_variances(ann[DP_VARIANCE_KEY], len(labels), where)

    masks = None
    if ann.get('dp_masks', None) is not None:
        masks = check_dp_masks(ann['dp_masks'], where)
    return dp, masks
