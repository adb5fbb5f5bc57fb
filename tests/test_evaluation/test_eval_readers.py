# Copyright (c) mmdensekd contributors. All rights reserved.
"""The evaluator's readers give what the plain ones give: the scanline chart
reader (PNG left filtered) against the reference PNG decoder, the results
JSON with ``uv_data`` views against ``json.loads``, and chunks shared with
forked workers against a plain loop."""
import base64
import json
import os
import struct
import time
import zlib
from unittest import mock

import cv2
import numpy as np
import pytest

from mmdensekd.evaluation.functional import densepose_charts as charts
from mmdensekd.evaluation.functional import densepose_eval as dpe
from mmdensekd.evaluation.functional.densepose_charts import ScanlineChart, read_chart
from mmdensekd.evaluation.functional.densepose_results import loads_results_json
from mmdensekd.evaluation.functional.densepose_workers import SharedChunks
from mmdensekd.structures import decode_iuv_png, encode_iuv_png
from mmdensekd.testing.synthetic_eval_data import synthetic_chart


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def _png(iuv: np.ndarray, filters, split: int = 1, bit_depth: int = 8, extra=(),
         idat=None) -> str:
    """Base64 PNG of a (3, h, w) chart written by hand: the given filter
    type per row (0 None, 1 Sub, 2 Up), the IDAT split in ``split`` chunks,
    ``extra`` chunks before the IDAT."""
    _, h, w = iuv.shape
    img = iuv.transpose(1, 2, 0).astype(np.int64)
    rows = []
    for y in range(h):
        line = img[y].reshape(-1)
        if filters[y] == 1:
            line = line - np.concatenate([[0, 0, 0], line[:-3]])
        elif filters[y] == 2:
            line = line - (img[y - 1].reshape(-1) if y else 0)
        rows.append(bytes([filters[y]]) + (line % 256).astype(np.uint8).tobytes())
    stream = zlib.compress(b''.join(rows)) if idat is None else idat
    parts = [stream[len(stream) * i // split:len(stream) * (i + 1) // split]
             for i in range(split)]
    header = struct.pack('>II', w, h) + bytes([bit_depth, 2, 0, 0, 0])
    png = (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header) + b''.join(extra)
           + b''.join(_chunk(b'IDAT', p) for p in parts) + _chunk(b'IEND', b''))
    return base64.b64encode(png).decode()


def _same_as_reference(data: str, points: int = 40, seed: int = 0) -> None:
    ref = decode_iuv_png(data).transpose(1, 2, 0)
    chart = read_chart(data)
    h, w = ref.shape[:2]
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, h, points), rng.integers(0, w, points)
    # samples first (the table they build also gives the labels), then a
    # fresh chart with the labels first
    np.testing.assert_array_equal(chart.sample(rows, cols), ref[rows, cols].T)
    np.testing.assert_array_equal(chart.foreground(), ref[:, :, 0] > 0)
    np.testing.assert_array_equal(chart.labels(), ref[:, :, 0])
    again = read_chart(data)
    np.testing.assert_array_equal(again.foreground(), ref[:, :, 0] > 0)
    np.testing.assert_array_equal(again.labels(), ref[:, :, 0])
    np.testing.assert_array_equal(again.sample(rows, cols), ref[rows, cols].T)
    np.testing.assert_array_equal(again.hwc(), ref)
    assert (chart.height, chart.width, chart.num_channels) == (h, w, 3)


@pytest.mark.parametrize('pattern', ['cv2', 'none', 'sub', 'mixed'])
def test_scanline_reader_equals_the_reference_decoder(pattern):
    rng = np.random.default_rng(1)
    for w, h in ((1, 1), (2, 5), (37, 80), (300, 41)):
        iuv = synthetic_chart(rng, w, h)
        iuv[:, rng.random((h, w)) < 0.05] = rng.integers(0, 256, 3)[:, None]  # noise
        if pattern == 'cv2':
            data = encode_iuv_png(iuv)
        else:
            filters = {'none': np.zeros(h, int), 'sub': np.ones(h, int),
                       'mixed': rng.integers(0, 2, h)}[pattern]
            data = _png(iuv, filters, split=int(rng.integers(1, 4)))
        assert isinstance(read_chart(data), ScanlineChart)
        _same_as_reference(data)


def test_int64_prefix_sums_beyond_int32_tables():
    rng = np.random.default_rng(2)
    iuv = rng.integers(0, 256, (3, 30, 50)).astype(np.uint8)
    data = _png(iuv, rng.integers(0, 2, 30))
    with mock.patch.object(charts, '_INT32_PIXELS', 10):  # tables would overflow
        _same_as_reference(data)


def test_other_pngs_go_through_the_reference_decoder():
    rng = np.random.default_rng(3)
    iuv = synthetic_chart(rng, 40, 30)
    up = _png(iuv, [0] + [2] * 29)  # Up filter rows
    text = _png(iuv, [1] * 30, extra=[_chunk(b'tEXt', b'k\x00v')])  # another chunk
    rgba = cv2.imencode('.png', np.dstack([iuv.transpose(1, 2, 0)[:, :, ::-1],
                                           np.full((30, 40), 255, np.uint8)]))[1]
    rgba = base64.b64encode(rgba.tobytes()).decode()
    for data in (up, text, rgba):
        chart = read_chart(data)
        assert not isinstance(chart, ScanlineChart)
        np.testing.assert_array_equal(chart.hwc(), charts.decode_chart_hwc(data))
    # damaged: the reference decoder's message, never a silent reading
    good = base64.b64decode(_png(iuv, [1] * 30))
    bad_crc = bytearray(good)
    bad_crc[45] ^= 1  # inside the IDAT data: its CRC fails
    short = _png(iuv, [1] * 30, idat=zlib.compress(b'\x01' * 50))  # too little data
    for data in (base64.b64encode(bytes(bad_crc)).decode(), short, 'not base64 !',
                 encode_iuv_png(iuv)[:60]):
        with pytest.raises(ValueError) as ours:
            read_chart(data)
        with pytest.raises(ValueError) as ref:
            decode_iuv_png(data)
        assert str(ours.value) == str(ref.value)


def test_empty_charts_and_odd_results_are_clear_errors(tmp_path):
    from mmdensekd.evaluation.functional.densepose_results import load_densepose_results
    for data in ('', b'', memoryview(b''), '!!'):  # base64 of no bytes at all
        with pytest.raises(ValueError, match='empty'):
            read_chart(data)
    for text, match in ((b'[1]', 'result 0 is a int'), (b'[\xff]', 'not valid JSON')):
        path = tmp_path / 'res.json'
        path.write_bytes(text)
        for views in (False, True):
            with pytest.raises(ValueError, match=match):
                load_densepose_results(str(path), chart_views=views)
    iuv = synthetic_chart(np.random.default_rng(5), 9, 7)
    res = dict(image_id=1, bbox=[0, 0, 9, 7], score=1.0, uv_data=encode_iuv_png(iuv), uv_shape=5)
    with pytest.raises(ValueError, match='result 0 .*uv_shape says 5'):
        dpe._Dt(res, 0).load_chart()


def test_result_charts_as_views_of_the_file():
    rng = np.random.default_rng(4)
    charts_ = [encode_iuv_png(synthetic_chart(rng, 9, 7)) for _ in range(3)]
    results = [dict(image_id=i, category_id=1, bbox=[1.5, 2, 3, 4], score=0.5,
                    uv_shape=[3, 7, 9], uv_data=c) for i, c in enumerate(charts_)]
    for text in (json.dumps(results), json.dumps(results, indent=2),
                 json.dumps(results, separators=(',', ':'))):
        got = loads_results_json(text.encode(), chart_views=True)
        assert all(type(r['uv_data']) is memoryview for r in got)
        assert [dict(r, uv_data=bytes(r['uv_data']).decode()) for r in got] == results
    # forms parsed as they are (each uv_data then a str, as json.loads gives)
    odd = [
        json.dumps(results).replace(charts_[0][:8], charts_[0][:4] + '\\u0041' + charts_[0][5:8]),
        json.dumps(results).replace(charts_[1][:4], charts_[1][:4] + '\\/'),  # escape
        json.dumps([dict(results[0], score=float('nan'))] + results[1:]),  # NaN elsewhere
        json.dumps(results + [dict(extra=dict(uv_data='abc'))]),  # uv_data not a result's
        json.dumps(results + [{'a"uv_data': 'zzz'}]),  # the key inside another key
        json.dumps(results, ensure_ascii=False).replace(charts_[2][:3], charts_[2][:3] + 'é'),
        json.dumps(dict(uv_data=charts_[0])),  # not a list
    ]
    for text in odd:
        expected = json.loads(text)
        got = loads_results_json(text.encode(), chart_views=True)
        assert got == expected or (np.isnan(got[0]['score']) and
                                   got[1:] == expected[1:])
        assert not any(type(r.get('uv_data')) is memoryview for r in
                       (got if isinstance(got, list) else [got]) if isinstance(r, dict))
    # one chart with an escape: parsed as it is, the others cut out
    text = json.dumps(results)
    tail = charts_[1][-12:]
    assert text.count(tail) == 1
    text = text.replace(tail, tail[:6] + '\\/' + tail[6:])
    got = loads_results_json(text.encode(), chart_views=True)
    assert [type(r['uv_data']) for r in got] == [memoryview, str, memoryview]
    assert [dict(r, uv_data=str(r['uv_data'], 'ascii') if type(r['uv_data']) is memoryview
                 else r['uv_data']) for r in got] == json.loads(text)
    # invalid JSON: json's own error
    for text in ('[{"uv_data": "abc"', '[{"uv_data": "ab\x01c"}]'):
        with pytest.raises(json.JSONDecodeError) as ref:
            json.loads(text.encode())
        with pytest.raises(json.JSONDecodeError) as ours:
            loads_results_json(text.encode(), chart_views=True)
        assert str(ours.value) == str(ref.value)


def test_offline_reading_with_views_gives_the_same_numbers(tmp_path, dp_mesh_dir):
    from mmdensekd.evaluation.functional import (
        DensePoseEvalData,
        dump_densepose_results,
        evaluate,
        evaluate_results_file,
    )
    from mmdensekd.testing.synthetic_eval_data import synthetic_densepose_case
    gt, results = synthetic_densepose_case(np.random.default_rng(5), 6, 9, 2, 20)
    res_path, gt_path = str(tmp_path / 'res.json'), str(tmp_path / 'gt.json')
    dump_densepose_results(results, res_path)
    with open(gt_path, 'w') as f:
        json.dump(gt, f)
    with open(res_path) as f:
        plain = json.load(f)
    expected = evaluate(gt, plain, eval_data=DensePoseEvalData.from_dir(dp_mesh_dir),
                        show_progress=False, workers=1)
    assert evaluate_results_file(res_path, gt_path, dp_mesh_dir, show_progress=False,
                                 workers=1) == expected
    assert expected['GPS_AP'] > 0 and expected['IOU_AP'] > 0


# ------------------------------------------------------------ shared chunks
def _run_shared(num: int, processes: int, fail=(), slow_child: float = 0.0):
    """Chunk n's result is n * n, computed in whichever process; the
    caller's copy of each result, in chunk order (or the first error)."""
    parent = os.getpid()
    values = {}

    def prepare(n):
        if n in fail:
            raise ValueError(f'chunk {n} is bad')
        if os.getpid() != parent:
            time.sleep(slow_child)
        values[n] = n * n

    shared = SharedChunks(num, prepare, lambda n: values[n],
                          lambda n, v: values.__setitem__(n, v), processes)
    try:
        out = []
        for n in range(num):
            shared.wait(n)
            out.append(values[n])
        return out
    finally:
        shared.close()


@pytest.mark.skipif(not dpe.fork_available(), reason='worker processes need fork (Linux)')
@pytest.mark.parametrize('processes,slow', [(0, 0.0), (1, 0.0), (2, 0.0), (2, 0.2)])
def test_shared_chunks_give_every_result_in_order(processes, slow):
    assert _run_shared(12, processes, slow_child=slow) == [n * n for n in range(12)]


class _TwoArgError(Exception):
    """Pickles but does not unpickle (``Exception`` pickles ``args`` only)."""

    def __init__(self, what, why):
        super().__init__(f'{what}: {why}')


@pytest.mark.skipif(not dpe.fork_available(), reason='worker processes need fork (Linux)')
def test_shared_chunks_redo_a_chunk_whose_message_cannot_be_read():
    parent = os.getpid()

    def prepare(n):
        if os.getpid() == parent:
            time.sleep(0.1)  # the worker gets the last chunk
        if n == 3:
            raise _TwoArgError(f'chunk {n}', 'bad')

    shared = SharedChunks(4, prepare, lambda n: n, lambda n, v: None, 1)
    try:
        for n in range(3):
            shared.wait(n)
        with pytest.raises(_TwoArgError, match='chunk 3: bad'):
            shared.wait(3)
    finally:
        shared.close()


@pytest.mark.skipif(not dpe.fork_available(), reason='worker processes need fork (Linux)')
def test_shared_chunks_without_a_fork_left_do_the_work_here():
    import multiprocessing.context as mp_context
    real_start, started = mp_context.ForkProcess.start, []

    def start_once(self):  # the second fork fails (e.g. EAGAIN)
        if started:
            raise OSError(11, 'Resource temporarily unavailable')
        started.append(self)
        real_start(self)

    with mock.patch.object(mp_context.ForkProcess, 'start', start_once):
        assert _run_shared(6, 3) == [n * n for n in range(6)]
    assert len(started) == 1


@pytest.mark.skipif(not dpe.fork_available(), reason='worker processes need fork (Linux)')
@pytest.mark.parametrize('processes', [0, 1, 2])
def test_shared_chunks_raise_the_first_error_in_chunk_order(processes):
    with pytest.raises(ValueError, match='chunk 3 is bad'):
        _run_shared(10, processes, fail=(3, 7))
    import multiprocessing as mp
    assert not mp.active_children()


def test_default_workers_leave_busy_cores_alone():
    with mock.patch.object(os, 'sched_getaffinity', return_value={0, 1}):
        with mock.patch.object(os, 'getloadavg', return_value=(1.0, 1.0, 1.0)):
            assert dpe.default_workers() == 2  # only this process runs
        with mock.patch.object(os, 'getloadavg', return_value=(3.4, 1.0, 1.0)):
            assert dpe.default_workers() == 1  # the other core is taken
    with mock.patch.object(os, 'sched_getaffinity', return_value=set(range(32))):
        with mock.patch.object(os, 'getloadavg', return_value=(0.2, 0.0, 0.0)):
            assert dpe.default_workers() == 8
