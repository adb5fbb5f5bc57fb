# Copyright (c) mmdensekd contributors. All rights reserved.
import json
import os.path as osp

import numpy as np
import pytest

from mmdensekd.evaluation.functional import (
    dump_densepose_results,
    load_densepose_results,
    to_challenge_format,
)
from mmdensekd.structures import decode_iuv_png, encode_iuv_png

EXAMPLE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'densepose_real',
                   'example_results.json')


def test_real_results_decode_and_reencode_identically(tmp_path):
    with open(EXAMPLE) as f:
        raw = json.load(f)
    results = load_densepose_results(EXAMPLE, decode=True)
    assert len(results) == 21
    assert sorted({r['image_id'] for r in results}) == [785, 872, 885]
    first = [r for r in results if r['image_id'] == 785][0]
    assert first['iuv'].shape == (3, 342, 215) and first['iuv'].dtype == np.uint8
    assert np.count_nonzero(first['iuv'][0]) == 22314  # foreground pixels of that person
    assert sum(np.count_nonzero(r['iuv'][0]) > 0 for r in results) == 18
    for r in results:
        iuv = r['iuv']
        assert list(iuv.shape) == r['uv_shape']
        assert iuv[0].max() <= 24
        np.testing.assert_array_equal(decode_iuv_png(encode_iuv_png(iuv)), iuv)

    out = str(tmp_path / 'again.json')
    dump_densepose_results([{k: v for k, v in r.items() if k != 'uv_data'} for r in results],
                           out)
    again = load_densepose_results(out, decode=True)
    assert len(again) == len(raw)
    for a, r, orig in zip(again, results, raw):
        for key in ('image_id', 'category_id', 'bbox', 'score', 'uv_shape'):
            assert a[key] == orig[key], key
        np.testing.assert_array_equal(a['iuv'], r['iuv'])


def test_results_format_errors(tmp_path):
    with pytest.raises(KeyError, match="result 0 lacks \\['score'\\]"):
        to_challenge_format([dict(image_id=1, category_id=1, bbox=[0, 0, 1, 1])])
    bad = str(tmp_path / 'bad.json')
    with open(bad, 'w') as f:
        json.dump([dict(image_id=1, category_id=1, bbox=[0, 0, 2, 2], score=1.0, uv_shape=[3, 5, 5],
                        uv_data=encode_iuv_png(np.zeros((3, 2, 2), np.uint8)))], f)
    with pytest.raises(ValueError, match='result 0 \\(image 1\\) decodes to \\[3, 2, 2\\]'):
        load_densepose_results(bad, decode=True)
