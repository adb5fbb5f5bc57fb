# Copyright (c) mmdensekd contributors. All rights reserved.
"""The end-to-end evaluator: exact mask resizing, batched matching, threads,
results-file errors and counted skips, and the offline benchmark's identity
check against release 0.x's code path."""
import importlib.util
import json
import os.path as osp
import runpy
import sys
from unittest import mock

import numpy as np
import pytest
from scipy.ndimage import zoom

from mmdensekd.evaluation.functional import (
    DensePoseEvalData,
    dump_densepose_results,
    evaluate,
    evaluate_results_file,
    match_image,
    match_images,
    to_challenge_format,
)
from mmdensekd.evaluation.functional import densepose_eval as dpe
from mmdensekd.evaluation.functional.densepose_masks import zoom_binary_linear
from mmdensekd.evaluation.functional.densepose_matching import AREA_RNGS
from mmdensekd.testing.synthetic_eval_data import synthetic_densepose_case

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', 'analysis', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zoom_binary_linear_is_scipy_bit_for_bit():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    masks = [rng.uniform(size=(256, 256)) > 0.5, np.ones((256, 256), bool),
             ((xx - 128) / 40.0)**2 + ((yy - 120) / 70.0)**2 < 1]
    sizes = [1, 2, 3, 127, 255, 256, 257, 511, 512, 700] + list(rng.uniform(1, 600, 40))
    for mask in masks:
        for h in sizes:
            w = sizes[int(rng.integers(len(sizes)))]
            factors = (max(float(h), 1.0) / 256, max(float(w), 1.0) / 256)
            ref = zoom(mask.astype(np.float64), factors, order=1, prefilter=False) > 0.5
            # row-major, and column-major as pycocotools decodes (zoomed
            # through its transpose, the same sums in scipy's order)
            for layout in (mask, np.asfortranarray(mask.astype(np.uint8))):
                got = zoom_binary_linear(layout, factors)
                assert got.shape == ref.shape, (h, w)
                np.testing.assert_array_equal(got, ref, err_msg=f'{h}x{w}')


def test_batched_matching_equals_one_matching_per_row():
    rng = np.random.default_rng(1)
    num_k, num_d, num_g = 6, 7, 5
    sim = rng.uniform(0, 1, (num_k, num_d, num_g)) * (rng.uniform(size=(num_k, num_d, num_g)) > .3)
    box = rng.uniform(0.5, 1, (num_k, num_d, num_g))
    ignore = rng.uniform(size=(num_k, num_g)) < 0.3
    ignore[0] = True  # all ignored
    crowd = rng.uniform(size=(num_k, num_g)) < 0.2
    dt_area = rng.uniform(500, 20000, num_d)
    rngs = [AREA_RNGS[k % 3] for k in range(num_k)]
    dtm, dt_ig = match_images(sim, box, ignore, crowd, dt_area, rngs)
    assert dtm.any() and dt_ig.any() and not dt_ig.all()
    for k in range(num_k):
        one = match_image(sim[k], box[k], ignore[k], crowd[k], dt_area, rngs[k])
        np.testing.assert_array_equal(one['dt_matched'], dtm[k])
        np.testing.assert_array_equal(one['dt_ignore'], dt_ig[k])
    assert dt_ig[0].all()


@pytest.fixture(scope='module')
def case(dp_mesh_dir):
    rng = np.random.default_rng(3)
    gt, results = synthetic_densepose_case(rng, 6, 10, dets_per_instance=2, num_points=40)
    gt['images'][0].update(ignore_regions_x=[[0, 320, 320, 0]],
                           ignore_regions_y=[[0, 0, 480, 480]])
    gt['annotations'][1]['iscrowd'] = 1
    return gt, to_challenge_format(results), DensePoseEvalData.from_dir(dp_mesh_dir)


def test_threads_do_not_change_the_numbers(case):
    gt, results, mesh = case
    one = evaluate(gt, results, eval_data=mesh, show_progress=False, workers=1)
    three = evaluate(gt, results, eval_data=mesh, show_progress=False, workers=3)
    assert one == three
    assert one['IOU_AP'] > 0.1 and one['GPS_AP50'] > 0


def test_offline_benchmark_matches_release_0x(case, dp_mesh_dir, tmp_path, capsys):
    tool = _load_tool('benchmark_densepose_eval')
    gt, results, _ = case
    gt_path, res_path = str(tmp_path / 'gt.json'), str(tmp_path / 'res.json')
    with open(gt_path, 'w') as f:
        json.dump(gt, f)
    dump_densepose_results(results, res_path)
    ours = evaluate_results_file(res_path, gt_path, dp_mesh_dir, show_progress=False)
    old = tool.baseline_offline(res_path, gt_path, dp_mesh_dir)
    assert ours == old and ours['GPSm_AP'] > 0
    out = tool.main(['--images', '4', '--instances', '6', '--points', '20', '--eval-data',
                     dp_mesh_dir, '--workers', '2'])
    assert out['identical'] and out['ratio'] > 0
    assert 'numbers identical (all 30): True' in capsys.readouterr().out


def test_corrupt_uv_data_names_the_result(case, dp_mesh_dir, tmp_path):
    gt, results, mesh = case
    bad = [dict(r) for r in results]
    bad[3]['uv_data'] = bad[3]['uv_data'][:40] + 'AAAA' * 10  # truncated PNG
    image = bad[3]['image_id']
    with pytest.raises(ValueError, match=rf'res\.json: result 3 \(image {image}\): uv_data is '
                       'not a decodable PNG'):
        evaluate(gt, bad, eval_data=mesh, show_progress=False, results_source='res.json')
    gt_path, res_path = str(tmp_path / 'gt.json'), str(tmp_path / 'res.json')
    with open(gt_path, 'w') as f:
        json.dump(gt, f)
    with open(res_path, 'w') as f:
        json.dump(bad, f)
    # the command line prints one line naming the file and the result, no traceback
    argv = sys.argv
    try:
        sys.argv = ['eval_densepose_results.py', res_path, gt_path, '--eval-data', dp_mesh_dir]
        with pytest.raises(SystemExit, match=rf'error: .*res\.json: result 3 \(image {image}\)'):
            runpy.run_path(osp.join(ROOT, 'tools', 'analysis', 'eval_densepose_results.py'),
                           run_name='__main__')
    finally:
        sys.argv = argv


def test_unknown_categories_are_counted_and_warned(case):
    gt, results, mesh = case
    extra = [dict(results[0], category_id=7), dict(results[1], category_id=7),
             dict(results[2], category_id='person'), dict(results[0], image_id=999)]
    with mock.patch.object(dpe, 'print_log') as log:
        stats = evaluate(gt, results + extra, eval_data=mesh, show_progress=False)
    warnings = [c.args[0] for c in log.call_args_list if c.kwargs.get('level') == 30]
    assert any('skipped 3 results whose category_id' in w and '7' in w and "'person'" in w
               for w in warnings), warnings
    assert any('skipped 1 results whose image_id' in w for w in warnings), warnings
    assert stats == evaluate(gt, results, eval_data=mesh, show_progress=False)
