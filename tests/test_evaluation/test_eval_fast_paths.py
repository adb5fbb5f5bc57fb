# Copyright (c) mmdensekd contributors. All rights reserved.
"""The evaluator's fast paths give what the slow ones give: the batched
ground-truth checks (RLE strings and point fields of all annotations at
once), the chart reader, charts left undecoded when they cannot change a
number, and worker processes."""
import copy
import importlib.util
import multiprocessing as mp
import os.path as osp
from unittest import mock

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdensekd.datasets.densepose_parsing import (
    _check_rle,
    _compressed_rles_ok,
    check_dp_masks,
    densepose_fields_valid,
    parse_densepose,
)
from mmdensekd.evaluation.functional import DensePoseEvalData, evaluate, to_challenge_format
from mmdensekd.evaluation.functional import densepose_eval as dpe
from mmdensekd.evaluation.functional.densepose_charts import chart_header_ok, decode_chart_hwc
from mmdensekd.structures import decode_iuv_png, encode_iuv_png
from mmdensekd.testing.synthetic_eval_data import synthetic_chart, synthetic_densepose_case

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALPHABET = [chr(c) for c in range(48, 112)]


def _rle_ok_one_by_one(strings):
    try:
        for s in strings:
            _check_rle({'size': [256, 256], 'counts': s}, 0, 'w')
        return True
    except ValueError:
        return False


def test_batched_rle_check_agrees_with_one_by_one():
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(150):
        strings = []
        for _ in range(int(rng.integers(1, 5))):
            mask = np.zeros((256, 256), np.uint8)
            y, x = rng.integers(0, 200, 2)
            mask[y:y + rng.integers(1, 56), x:x + rng.integers(1, 56)] = 1
            mask |= (rng.random((256, 256)) < rng.choice([0.0, 0.01, 0.5])).astype(np.uint8)
            s = mask_utils.encode(np.asfortranarray(mask))['counts'].decode()
            kind = rng.integers(0, 6)
            if kind == 1:  # one character changed
                i = int(rng.integers(len(s)))
                s = s[:i] + ALPHABET[int(rng.integers(64))] + s[i + 1:]
            elif kind == 2:  # truncated
                s = s[:int(rng.integers(len(s)))]
            elif kind == 3:  # one value too many
                s += ALPHABET[int(rng.integers(64))]
            elif kind == 4:
                s += 'é'
            strings.append(s)
        expected = _rle_ok_one_by_one(strings)
        outcomes.add(expected)
        # small blocks: strings split across several vectorised passes
        for block in (1 << 18, 100):
            got = _compressed_rles_ok([s.encode('ascii', errors='replace') for s in strings],
                                      block=block)
            assert got == expected, strings
    assert outcomes == {True, False}


def test_dp_masks_error_names_the_first_bad_entry():
    full = mask_utils.encode(np.asfortranarray(np.ones((256, 256), np.uint8)))
    good = dict(size=[256, 256], counts=full['counts'].decode())
    masks = [good] * 3 + [[]] + [dict(good, counts=good['counts'] + '1')] + [good] * 9
    with pytest.raises(ValueError, match=r'ann\.json: id 7: dp_masks\[4\] is a malformed RLE'):
        check_dp_masks(masks, 'ann.json: id 7')
    assert check_dp_masks([good] * 13 + [None], 'x') == [good] * 13 + [None]


@pytest.fixture(scope='module')
def gt_case():
    rng = np.random.default_rng(5)
    gt, results = synthetic_densepose_case(rng, 3, 5, dets_per_instance=2, num_points=30)
    return gt, to_challenge_format(results)


MUTATIONS = {
    'short dp_x': (lambda a: a.__setitem__('dp_x', a['dp_x'][:-1]), False),
    'dp_I 25': (lambda a: a['dp_I'].__setitem__(3, 25), False),
    'dp_I 2.5': (lambda a: a['dp_I'].__setitem__(3, 2.5), False),
    'dp_U > 1': (lambda a: a['dp_U'].__setitem__(0, 1.0000001), False),
    'dp_y > 256': (lambda a: a['dp_y'].__setitem__(0, 256.01), False),
    'dp_y nan': (lambda a: a['dp_y'].__setitem__(0, float('nan')), False),
    'dp_y None': (lambda a: a['dp_y'].__setitem__(0, None), False),
    'no dp_U': (lambda a: a.pop('dp_U'), False),
    '13 masks': (lambda a: a['dp_masks'].pop(), False),
    'mask size': (lambda a: a['dp_masks'].__setitem__(5, {'size': [256, 255],
                                                          'counts': 'PPP'}), False),
    'truncated mask': (lambda a: a['dp_masks'].__setitem__(
        0, dict(size=[256, 256], counts=a['dp_masks'][0]['counts'][:-2])), False),
    # accepted by both
    'dp_x 256': (lambda a: a['dp_x'].__setitem__(0, 256.0), True),
    'empty mask entries': (lambda a: a['dp_masks'].__setitem__(2, None), True),
    'no points': (lambda a: [a.pop(k) for k in ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')],
                  True),
    'no masks': (lambda a: a.__setitem__('dp_masks', None), True),
}


@pytest.mark.parametrize('name', sorted(MUTATIONS))
def test_batched_field_check_never_accepts_what_parsing_rejects(gt_case, name):
    gt, _ = gt_case
    assert densepose_fields_valid(gt['annotations'])
    anns = copy.deepcopy(gt['annotations'])
    mutate, valid = MUTATIONS[name]
    mutate(anns[2])
    if valid:
        for ann in anns:
            parse_densepose(ann, 'w')
        assert densepose_fields_valid(anns)
    else:
        with pytest.raises(ValueError):
            for ann in anns:
                parse_densepose(ann, 'w')
        assert not densepose_fields_valid(anns)


def test_forms_the_batch_does_not_cover_fall_back_to_parsing(gt_case):
    gt, _ = gt_case
    anns = copy.deepcopy(gt['annotations'])
    anns[1]['dp_x'] = [[v] for v in anns[1]['dp_x']]  # nested: parse_densepose flattens it
    parse_densepose(anns[1], 'w')
    assert not densepose_fields_valid(anns)


def test_chart_reader_matches_the_reference_decoder():
    rng = np.random.default_rng(2)
    for w, h in ((1, 1), (37, 80), (300, 41)):
        iuv = synthetic_chart(rng, w, h)
        data = encode_iuv_png(iuv)
        np.testing.assert_array_equal(decode_chart_hwc(data), iuv.transpose(1, 2, 0))
        np.testing.assert_array_equal(decode_chart_hwc(data),
                                      decode_iuv_png(data).transpose(1, 2, 0))
        assert chart_header_ok(data, [3, h, w]) and not chart_header_ok(data, [3, w + 1, h])
        assert not chart_header_ok(data[:len(data) // 2])
    for bad in ('not base64 !', encode_iuv_png(iuv)[:60]):
        with pytest.raises(ValueError) as ours:
            decode_chart_hwc(bad)
        with pytest.raises(ValueError) as ref:
            decode_iuv_png(bad)
        assert str(ours.value) == str(ref.value)


@pytest.fixture(scope='module')
def far_case(dp_mesh_dir):
    """One person and detections: two on it, one far from it whose box holds
    a few of its points only (its chart cannot reach a 0.5 similarity)."""
    rng = np.random.default_rng(7)
    gt, results = synthetic_densepose_case(rng, 1, 1, dets_per_instance=2, num_points=50)
    x, y, w, h = gt['annotations'][0]['bbox']
    results = results[:2] + [dict(results[0], bbox=[x + 0.8 * w, y + 0.8 * h, w, h],
                                  iuv=synthetic_chart(rng, int(w), int(h)), score=0.95)]
    return gt, to_challenge_format(results), DensePoseEvalData.from_dir(dp_mesh_dir)


def test_charts_that_cannot_match_are_checked_not_decoded(far_case):
    gt, results, mesh = far_case
    tool = _load_benchmark()
    reference = tool.baseline_evaluate(gt, results, mesh)  # decodes every chart
    with mock.patch.object(dpe, 'read_chart', wraps=dpe.read_chart) as decode:
        stats = evaluate(gt, results, eval_data=mesh, show_progress=False, workers=1)
    assert stats == reference
    assert decode.call_count == 2  # not the far detection's chart
    # a truncated chart of the far detection is still an error naming it
    bad = [dict(r) for r in results]
    bad[2]['uv_data'] = bad[2]['uv_data'][:200]
    with pytest.raises(ValueError, match=r'res\.json: result 2 \(image 1\): uv_data is not a '
                       'decodable PNG'):
        evaluate(gt, bad, eval_data=mesh, show_progress=False, workers=1,
                 results_source='res.json')


@pytest.fixture(scope='module')
def case(dp_mesh_dir):
    rng = np.random.default_rng(3)
    gt, results = synthetic_densepose_case(rng, 40, 60, dets_per_instance=2, num_points=30)
    gt['images'][0].update(ignore_regions_x=[[0, 320, 320, 0]],
                           ignore_regions_y=[[0, 0, 480, 480]])
    gt['annotations'][1]['iscrowd'] = 1
    return gt, to_challenge_format(results), DensePoseEvalData.from_dir(dp_mesh_dir)


@pytest.mark.skipif(not dpe.fork_available(), reason='worker processes need fork (Linux)')
def test_worker_processes_give_identical_numbers_and_errors(case):
    gt, results, mesh = case
    one = evaluate(gt, results, eval_data=mesh, show_progress=False, workers=1)
    procs = evaluate(gt, results, eval_data=mesh, show_progress=False, workers=2,
                     processes=True)
    assert procs == one and one['GPSm_AP'] > 0
    assert not mp.active_children()  # nothing left behind
    bad = [dict(r) for r in results]
    index = len(bad) - 5
    bad[index]['uv_data'] = bad[index]['uv_data'][:40] + 'AAAA' * 10
    image = bad[index]['image_id']
    with pytest.raises(ValueError, match=rf'res\.json: result {index} \(image {image}\): '
                       'uv_data is not a decodable PNG'):
        evaluate(gt, bad, eval_data=mesh, show_progress=False, workers=2, processes=True,
                 results_source='res.json')


def _load_benchmark():
    spec = importlib.util.spec_from_file_location(
        'benchmark_densepose_eval',
        osp.join(ROOT, 'tools', 'analysis', 'benchmark_densepose_eval.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
