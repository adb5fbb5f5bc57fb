# Copyright (c) mmdensekd contributors. All rights reserved.
import os
import os.path as osp
import re
import shutil
from unittest import mock

import numpy as np
import pytest

from mmdensekd.evaluation.functional import (
    EVAL_DATA_URL,
    DensePoseEvalData,
    load_densepose_eval_data,
    pairwise_gps,
)
from mmdensekd.evaluation.functional import densepose_eval_data as ded
from mmdensekd.testing.synthetic_eval_data import reference_pdist_index


def test_geodesic_index_matches_reference_formula():
    # Pdist entry k holds the value k: geodesic() must pick the entry the
    # reference index arithmetic picks.
    num = 300
    data = DensePoseEvalData(np.ones(num), np.linspace(0, 1, num), np.zeros(num),
                             np.arange(1, num + 1), np.arange(num * (num - 1) // 2, dtype=float))
    rng = np.random.default_rng(0)
    a, b = rng.integers(1, num + 1, 200), rng.integers(1, num + 1, 200)
    expected = [0.0 if x == y else float(reference_pdist_index(x, y)) for x, y in zip(a, b)]
    np.testing.assert_array_equal(data.geodesic(a, b), expected)
    np.testing.assert_array_equal(data.geodesic(b, a), expected)


def test_closest_vertices_ties_transform_and_background(dp_mesh_dir):
    data = DensePoseEvalData.from_dir(dp_mesh_dir)
    num = 6 * 121
    # part 2, (U, V) = (0.3, 0.7): subdiv vertex 121 + 3 * 11 + 7 -> id num - s
    s = 121 + 3 * 11 + 7
    got = data.closest_vertices(np.array([2, 2, 0, 25, 9]), np.array([0.3, 0.31, 0.3, 0.3, 0.3]),
                                np.array([0.7, 0.69, 0.7, 0.7, 0.7]))
    np.testing.assert_array_equal(got, [num - s, num - s, 0, 0, 0])
    # an exact tie between U 0.2 and 0.3 goes to the first vertex (U = 0.2)
    tie = data.closest_vertices(np.array([1]), np.array([0.25]), np.array([0.0]))
    assert tie[0] == num - (2 * 11 + 0)
    # quantised lookup equals the direct one at u8 / 255
    rng = np.random.default_rng(1)
    parts = rng.integers(0, 8, 500)
    u8, v8 = rng.integers(0, 256, 500), rng.integers(0, 256, 500)
    np.testing.assert_array_equal(data.closest_vertices_quantized(parts, u8, v8),
                                  data.closest_vertices(parts, u8 / 255.0, v8 / 255.0))


def test_gps_by_hand(dp_mesh_dir):
    data = DensePoseEvalData.from_dir(dp_mesh_dir)
    # GT box (10, 20, 255, 255): dp_x maps to image x = 10 + dp_x.
    # detection box (10, 20, 200, 255): chart pixel (int(dp_y), int(dp_x)).
    ann = dict(id=7, image_id=1, bbox=[10, 20, 255, 255],
               dp_x=[5.5, 30.2, 60.0, 90.9, 250.0, 120.0],
               dp_y=[7.2, 40.0, 70.5, 100.0, 10.0, 130.0],
               dp_I=[1, 1, 3, 2, 1, 4],
               dp_U=[0.2, 0.2, 0.0, 0.5, 0.5, 0.4],
               dp_V=[0.5, 0.5, 0.0, 0.5, 0.5, 0.6])
    iuv = np.zeros((3, 255, 200), np.uint8)
    iuv[:, 7, 5] = (1, 51, 128)      # same vertex as GT (0.2, 0.5): g = 0
    iuv[:, 40, 30] = (1, 178, 128)   # (0.7, 0.5): g = 0.5 * 0.5 = 0.25
    iuv[:, 70, 60] = (3, 0, 255)     # (0, 1) on part 3: g = 0.5 * 1.0
    #                  point 4 (I=2) falls on background: score 0
    #                  point 5 (x = 250) lies outside the 200 px wide box: 0
    iuv[:, 130, 120] = (5, 102, 153)  # part 5 vs GT part 4: g = 0.2 + 0.05
    res = dict(image_id=1, category_id=1, bbox=[10, 20, 200, 255], score=0.9, iuv=iuv)
    torso, hand = 0.351, 0.107  # per-part normalisation of parts 1 and 3, 4
    expected = (1.0 + np.exp(-0.25**2 / (2 * torso**2)) + np.exp(-0.5**2 / (2 * hand**2)) + 0
                + 0 + np.exp(-0.25**2 / (2 * hand**2))) / 6
    gps = pairwise_gps([res], [ann], data)
    assert gps.shape == (1, 1)
    assert gps[0, 0] == pytest.approx(expected, rel=1e-9)
    k = 0.255
    expected_2018 = (1 + np.exp(-0.25**2 / (2 * k**2)) + np.exp(-0.5**2 / (2 * k**2))
                     + np.exp(-0.25**2 / (2 * k**2))) / 6
    assert pairwise_gps([res], [ann], data, gps_kappa=k)[0, 0] == pytest.approx(expected_2018)
    # an annotation without DensePose points scores 0
    assert pairwise_gps([res], [dict(id=8, bbox=[10, 20, 255, 255])], data)[0, 0] == 0


def test_unequal_point_arrays_name_the_annotation(dp_mesh_dir):
    data = DensePoseEvalData.from_dir(dp_mesh_dir)
    ann = dict(id=42, image_id=3, bbox=[0, 0, 10, 10], dp_x=[1, 2], dp_y=[1], dp_I=[1, 1],
               dp_U=[0, 0], dp_V=[0, 0])
    res = dict(bbox=[0, 0, 10, 10], score=1.0, iuv=np.zeros((3, 10, 10), np.uint8))
    with pytest.raises(ValueError, match='annotation 42 of image 3'):
        pairwise_gps([res], [ann], data)


def test_missing_files_are_named(dp_mesh_dir, tmp_path):
    partial = tmp_path / 'partial'
    partial.mkdir()
    for name in ('SMPL_subdiv.mat', 'SMPL_SUBDIV_TRANSFORM.mat'):
        shutil.copy(osp.join(dp_mesh_dir, name), partial / name)
    with mock.patch.object(ded, 'print_log') as log:
        assert load_densepose_eval_data(str(partial)) is None
    msg = log.call_args[0][0]
    assert 'Pdist_matrix.pkl' in msg and EVAL_DATA_URL in msg and str(partial) in msg
    assert re.search(r"': (.*?) \(missing file", msg).group(1) == 'Pdist_matrix.pkl'
    with pytest.raises(FileNotFoundError, match='Pdist_matrix.pkl'):
        DensePoseEvalData.from_dir(str(partial))
    # no directory at all: the environment variable is consulted
    with mock.patch.dict(os.environ, {'MMDENSEKD_EVAL_DATA': dp_mesh_dir}):
        assert isinstance(load_densepose_eval_data(None), DensePoseEvalData)
    with mock.patch.dict(os.environ, {}, clear=True), mock.patch.object(ded, 'print_log') as log:
        assert load_densepose_eval_data(None) is None
    assert 'MMDENSEKD_EVAL_DATA' in log.call_args[0][0]


def test_short_distance_matrix_is_rejected():
    with pytest.raises(ValueError, match='Pdist_matrix.pkl holds 2 distances'):
        DensePoseEvalData(np.ones(4), np.zeros(4), np.zeros(4), np.arange(1, 5), np.zeros(2))
