# Copyright (c) mmdensekd contributors. All rights reserved.
"""Results in the COCO DensePose challenge format.

A result is a dict ``image_id``, ``category_id``, ``bbox`` (x, y, w, h),
``score``, ``uv_shape`` = [3, h, w] and ``uv_data`` = base64 PNG of the
box-sized IUV map (see :func:`mmdensekd.structures.encode_iuv_png`). In
memory the evaluation also accepts ``iuv`` (3, h, w) uint8 instead of
``uv_data``.
"""
import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.fileio import get_local_path

from mmdensekd.structures import decode_iuv_png, encode_iuv_png

RESULT_KEYS = ('image_id', 'category_id', 'bbox', 'score')


def to_challenge_format(results: Sequence[dict]) -> List[dict]:
    """JSON-ready copies of ``results`` with ``uv_shape`` and ``uv_data``.

    Args:
        results (Sequence[dict]): results carrying ``uv_data`` or ``iuv``.

    Returns:
        list[dict]: plain Python values only.
    """
    out = []
    for i, res in enumerate(results):
        missing = [k for k in RESULT_KEYS if k not in res]
        if missing:
            raise KeyError(f'result {i} lacks {missing}')
        item = dict(image_id=int(res['image_id']), category_id=int(res['category_id']),
                    bbox=[float(c) for c in res['bbox']], score=float(res['score']))
        if 'iuv' in res:
            iuv = np.asarray(res['iuv'], dtype=np.uint8)
            item['uv_shape'] = [int(s) for s in iuv.shape]
            item['uv_data'] = encode_iuv_png(iuv)
        elif 'uv_data' in res:
            item['uv_shape'] = [int(s) for s in res['uv_shape']]
            item['uv_data'] = res['uv_data']
        else:
            raise KeyError(f'result {i} (image {res["image_id"]}) has neither "iuv" nor '
                           '"uv_data"')
        out.append(item)
    return out


def dump_densepose_results(results: Sequence[dict], path: str) -> None:
    """Write ``results`` as a challenge-format JSON file."""
    with open(path, 'w') as f:
        json.dump(to_challenge_format(results), f)


def load_densepose_results(path: str, decode: bool = False,
                           chart_views: bool = False) -> List[dict]:
    """Read a challenge-format JSON file.

    Args:
        path (str): results file (local or an mmengine file backend path).
        decode (bool): also decode each ``uv_data`` into ``iuv`` (3, h, w).
        chart_views (bool): leave each ``uv_data`` as a read-only view
            (``memoryview``) of the file's bytes instead of a ``str`` (the
            same characters; what the evaluation reads, see
            :func:`loads_results_json`).

    Returns:
        list[dict]: the results.
    """
    with get_local_path(path) as local:
        with open(local, 'rb') as f:
            try:
                results = loads_results_json(f.read(), chart_views=chart_views)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ValueError(f'{path}: not valid JSON ({err})') from None
    if not isinstance(results, list):
        raise ValueError(f'{path}: expected a JSON list of results, got {type(results).__name__}')
    for i, res in enumerate(results):
        if not isinstance(res, dict):
            raise ValueError(f'{path}: result {i} is a {type(res).__name__}, not an object')
        missing = [k for k in RESULT_KEYS + ('uv_shape', 'uv_data') if k not in res]
        if missing:
            raise KeyError(f'{path}: result {i} lacks {missing}')
        if decode:
            try:
                iuv = decode_iuv_png(res['uv_data'])
            except ValueError as err:
                raise ValueError(f'{path}: result {i} (image {res["image_id"]}): {err}') \
                    from None
            if list(iuv.shape) != list(res['uv_shape']):
                raise ValueError(f'{path}: result {i} (image {res["image_id"]}) decodes to '
                                 f'{list(iuv.shape)}, uv_shape says {res["uv_shape"]}')
            res['iuv'] = iuv
    return results


_CHART_KEY = b'"uv_data"'
_JSON_SPACE = b' \t\n\r'


class _ChartMarker:
    """Stands for the n-th ``uv_data`` string cut out of a results file."""
    __slots__ = ('index', )

    def __init__(self, index: int) -> None:
        self.index = index


def _cut_chart_strings(text: bytes) -> Tuple[bytes, List[Tuple[int, int]]]:
    """``text`` with the ``"uv_data": "..."`` string values replaced by the
    literal ``NaN``, and the (start, end) byte range of each replaced value.

    Only values that are plain printable ASCII without escapes are cut (the
    same characters as the ``str`` ``json`` would build); the others stay.
    """
    codes = np.frombuffer(text, dtype=np.uint8)
    pieces, spans = [], []
    last = 0
    pos = text.find(_CHART_KEY)
    while pos >= 0:
        i = pos + len(_CHART_KEY)
        while i < len(text) and text[i] in _JSON_SPACE:
            i += 1
        if i < len(text) and text[i] == 0x3A:  # ':'
            i += 1
            while i < len(text) and text[i] in _JSON_SPACE:
                i += 1
        else:
            i = -1
        end = text.find(b'"', i + 1) if 0 <= i < len(text) and text[i] == 0x22 else -1
        if end < 0:
            pos = text.find(_CHART_KEY, pos + 1)
            continue
        start = i + 1
        value = codes[start:end]
        if text.find(b'\\', start, end) < 0 and (
                not len(value) or (value.min() >= 0x20 and value.max() <= 0x7E)):
            pieces += [text[last:i], b'NaN']
            spans.append((start, end))
            last = end + 1
        pos = text.find(_CHART_KEY, end + 1)
    pieces.append(text[last:])
    return b''.join(pieces), spans


def loads_results_json(text: bytes, chart_views: bool = False):
    """Parse a results file's bytes, as ``json.loads``.

    With ``chart_views``, the ``uv_data`` strings (nearly all of a results
    file) are not built as Python strings: they are cut out before parsing
    (the rest of the file is parsed as it is) and each result's
    ``uv_data`` is a ``memoryview`` of its characters in ``text``. Where the
    file has any other form (another key holding ``NaN``, ``uv_data``
    strings with escapes or outside a result, ...), the whole file is parsed
    as it is.

    Args:
        text (bytes): the file's bytes.
        chart_views (bool): see above.

    Returns:
        The parsed JSON value.
    """
    if not chart_views or not isinstance(text, bytes):
        return json.loads(text)
    skeleton, spans = _cut_chart_strings(text)
    if not spans:
        return json.loads(text)
    markers: List[_ChartMarker] = []

    def constant(name: str) -> _ChartMarker:
        markers.append(_ChartMarker(len(markers)))
        return markers[-1]

    try:
        results = json.loads(skeleton, parse_constant=constant)
    except json.JSONDecodeError:
        return json.loads(text)  # its error, at its position
    # every NaN must be one of ours, each in place as a result's uv_data
    found = [res['uv_data'].index for res in results
             if type(res) is dict and type(res.get('uv_data')) is _ChartMarker] \
        if type(results) is list else []
    if len(markers) != len(spans) or found != list(range(len(spans))):
        return json.loads(text)
    view = memoryview(text)
    for res in results:
        if type(res) is dict and type(res.get('uv_data')) is _ChartMarker:
            start, end = spans[res['uv_data'].index]
            res['uv_data'] = view[start:end]
    return results


def evaluate_results_file(results_path: str, gt_path: str, eval_data_dir: Optional[str] = None,
                          modes: Optional[Sequence[str]] = None, img_ids_from_results: bool = False,
                          cache_eval_data: bool = True, **kwargs) -> Dict[str, float]:
    """Evaluate a challenge-format results file against a DensePose-COCO
    annotation file (what ``tools/analysis/eval_densepose_results.py`` runs).

    Charts are decoded in parallel inside :func:`evaluate` (``workers``).

    Args:
        results_path (str): results JSON.
        gt_path (str): ground-truth JSON.
        eval_data_dir (str, optional): directory of the geodesic files (or
            ``$MMDENSEKD_EVAL_DATA``); needed for GPS and GPSm.
        modes (Sequence[str], optional): modes; default all (GPS and GPSm are
            dropped, with a warning, when the geodesic files are missing).
        img_ids_from_results (bool): evaluate only images with results.
        cache_eval_data (bool): keep the geodesic data loaded for the next
            call in this process.
        **kwargs: more :func:`evaluate` arguments (``gps_kappa``,
            ``skip_invalid``, ``workers``...).

    Returns:
        dict: :func:`evaluate`'s numbers.
    """
    from .densepose_eval import DENSEPOSE_MODES, evaluate
    from .densepose_eval_data import load_densepose_eval_data
    modes = list(modes) if modes is not None else list(DENSEPOSE_MODES)
    with get_local_path(gt_path) as local:
        with open(local, 'rb') as f:
            try:
                gt = json.loads(f.read())
            except json.JSONDecodeError as err:
                raise ValueError(f'{gt_path}: not valid JSON ({err})') from None
    results = load_densepose_results(results_path, chart_views=True)
    eval_data = None
    if any(m in ('GPS', 'GPSm') for m in modes):
        eval_data = load_densepose_eval_data(eval_data_dir, cache=cache_eval_data)
    img_ids = sorted({r['image_id'] for r in results}) if img_ids_from_results else None
    return evaluate(gt, results, modes=modes, eval_data=eval_data, img_ids=img_ids,
                    source=gt_path, results_source=results_path, **kwargs)
