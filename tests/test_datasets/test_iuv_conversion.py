# Copyright (c) mmdensekd contributors. All rights reserved.
import os.path as osp

import numpy as np
import pycocotools.mask as mask_util
import pytest

from mmdensekd.datasets.iuv_conversion import (
    box_iou_xywh,
    coarse_masks_to_rle,
    instances_from_iuv_image,
    instances_to_annotations,
    iuv_to_dp_fields,
    load_challenge_results,
    merge_instances_into_coco,
    resample_iuv,
    sample_dp_points,
)
from mmdensekd.structures import FINE_TO_COARSE, encode_iuv_png

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data')
RESULTS = osp.join(DATA, 'densepose_real', 'example_results.json')


@pytest.fixture(scope='module')
def instances():
    return load_challenge_results(RESULTS)


def _check_points_against_map(ann, iuv, src_box, dst_box):
    """Every point's I/U/V equals the source map at the point's pixel."""
    _, h, w = iuv.shape
    n = len(ann['dp_x'])
    assert n == len(ann['dp_y']) == len(ann['dp_I']) == len(ann['dp_U']) == len(ann['dp_V'])
    for x, y, i, u, v in zip(ann['dp_x'], ann['dp_y'], ann['dp_I'], ann['dp_U'], ann['dp_V']):
        assert 0 <= x <= 256 and 0 <= y <= 256
        x_img = dst_box[0] + x * dst_box[2] / 256
        y_img = dst_box[1] + y * dst_box[3] / 256
        c = int(np.floor((x_img - src_box[0]) * w / src_box[2]))
        r = int(np.floor((y_img - src_box[1]) * h / src_box[3]))
        assert iuv[0, r, c] == i
        assert abs(iuv[1, r, c] / 255 - u) <= 1 / 255
        assert abs(iuv[2, r, c] / 255 - v) <= 1 / 255
    return n


def _check_masks_against_points(ann):
    masks = ann['dp_masks']
    assert len(masks) == 14
    decoded = {}
    for k, m in enumerate(masks):
        if m == []:
            continue
        assert m['size'] == [256, 256]
        decoded[k] = mask_util.decode(m)
    for x, y, i in zip(ann['dp_x'], ann['dp_y'], ann['dp_I']):
        k = FINE_TO_COARSE[int(i)] - 1
        assert k in decoded, f'coarse part {k} of a point has an empty mask'
        assert decoded[k][int(y), int(x)] == 1
    return decoded


def test_load_challenge_results_real_file(instances):
    assert len(instances) == 21
    first = instances[0]
    assert first['image_id'] == 785
    assert first['bbox'] == [278.7, 42.6, 215.0, 342.0]
    assert first['iuv'].shape == (3, 342, 215) and first['iuv'].dtype == np.uint8
    assert sorted({i['image_id'] for i in instances}) == [785, 872, 885]
    assert len(load_challenge_results(RESULTS, score_thr=1.01)) == 0


def test_standalone_annotation_matches_real_iuv_map(instances):
    inst = instances[0]
    ann = instances_to_annotations([inst], num_points=100, seed=0)[0]
    assert ann['image_id'] == 785 and ann['bbox'] == inst['bbox'] and ann['iscrowd'] == 0
    n = _check_points_against_map(ann, inst['iuv'], inst['bbox'], inst['bbox'])
    assert 90 <= n <= 140
    # every part present in the map receives points
    present = set(np.unique(inst['iuv'][0]).tolist()) - {0}
    assert set(int(i) for i in ann['dp_I']) == present
    decoded = _check_masks_against_points(ann)
    # masks equal the coarse parts of the resampled map
    labels = resample_iuv(inst['iuv'], inst['bbox'])[0]
    coarse = np.asarray(FINE_TO_COARSE)[labels]
    for k in range(14):
        expected = coarse == k + 1
        if expected.any():
            np.testing.assert_array_equal(decoded[k], expected)
        else:
            assert ann['dp_masks'][k] == []
    # seeded: same output twice, different seed differs
    again = instances_to_annotations([inst], num_points=100, seed=0)[0]
    assert again['dp_x'] == ann['dp_x']
    assert instances_to_annotations([inst], seed=1)[0]['dp_x'] != ann['dp_x']


def test_merge_into_ground_truth_keeps_keypoints(instances):
    import json
    with open(osp.join(DATA, 'coco_tiny', 'test_coco.json')) as f:
        coco = json.load(f)
    merged, stats = merge_instances_into_coco(coco, instances, iou_thr=0.5)
    assert stats['matched'] == 1 and stats['unmatched'] == 20 and stats['empty'] == 0
    with_dp = [a for a in merged['annotations'] if 'dp_x' in a]
    assert [a['id'] for a in with_dp] == [442619]
    gt = next(a for a in coco['annotations'] if a['id'] == 442619)
    ann = with_dp[0]
    for key in ('keypoints', 'bbox', 'segmentation', 'area', 'num_keypoints'):
        assert ann[key] == gt[key]
    assert 'dp_x' not in gt  # input not modified
    # the points are expressed in the GROUND-TRUTH box frame
    _check_points_against_map(ann, instances[0]['iuv'], instances[0]['bbox'], gt['bbox'])
    _check_masks_against_points(ann)
    merged_strict, stats = merge_instances_into_coco(coco, instances, iou_thr=0.99)
    assert stats['matched'] == 0
    assert not any('dp_x' in a for a in merged_strict['annotations'])


def test_sample_points_small_parts_and_empty_map():
    iuv = np.zeros((3, 256, 256), np.uint8)
    iuv[0, :200, :] = 1  # a big torso part
    iuv[0, 250:, 250:] = 23  # a 6x6 head part
    iuv[1], iuv[2] = 128, 64
    pts = sample_dp_points(iuv, num_points=50, min_per_part=3,
                           rng=np.random.default_rng(0))
    parts = np.asarray(pts['dp_I'])
    assert (parts == 23).sum() == 3  # at least min_per_part for the tiny part
    assert 45 <= (parts == 1).sum() <= 51
    assert set(pts['dp_U']) == {128 / 255} and set(pts['dp_V']) == {64 / 255}
    empty = sample_dp_points(np.zeros((3, 256, 256), np.uint8))
    assert empty['dp_x'] == []
    assert iuv_to_dp_fields(np.zeros((3, 8, 8), np.uint8), [0, 0, 8, 8]) is None
    assert coarse_masks_to_rle(np.zeros((256, 256), np.uint8)) == [[]] * 14


def test_resample_outside_source_is_background():
    iuv = np.zeros((3, 10, 10), np.uint8)
    iuv[0] = 2
    out = resample_iuv(iuv, [0, 0, 10, 10], [5, 0, 10, 10], size=20)
    assert (out[0, :, :10] == 2).all() and (out[0, :, 10:] == 0).all()
    with pytest.raises(ValueError, match='part index I must be in 0..24'):
        resample_iuv(np.full((3, 4, 4), 30, np.uint8), [0, 0, 4, 4])


def test_bad_result_entry_names_file_and_index(tmp_path):
    import json
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps([dict(image_id=1, category_id=1, score=0.9, bbox=[0, 0, 4, 4],
                                     uv_shape=[3, 5, 4],
                                     uv_data=encode_iuv_png(np.zeros((3, 4, 4), np.uint8)))]))
    with pytest.raises(ValueError, match=r'bad.json: result 0 \(image 1\).*uv_shape'):
        load_challenge_results(str(path))
    path.write_text(json.dumps([dict(image_id=1, bbox=[0, 0, 4, 4])]))
    with pytest.raises(KeyError, match=r'bad.json: result 0 lacks'):
        load_challenge_results(str(path))


def test_instances_from_iuv_image(tmp_path):
    import cv2
    iuv = np.zeros((40, 60, 3), np.uint8)
    inds = np.zeros((40, 60), np.uint8)
    iuv[5:25, 10:20] = (2, 100, 50)  # instance 1: part 2 (OpenCV order: I first)
    inds[5:25, 10:20] = 1
    iuv[10:30, 30:55] = (14, 20, 200)  # instance 2: part 14
    inds[10:30, 30:55] = 2
    cv2.imwrite(str(tmp_path / 'iuv.png'), iuv)
    cv2.imwrite(str(tmp_path / 'inds.png'), inds)
    insts = instances_from_iuv_image(str(tmp_path / 'iuv.png'), str(tmp_path / 'inds.png'), 7)
    assert [i['bbox'] for i in insts] == [[10.0, 5.0, 10.0, 20.0], [30.0, 10.0, 25.0, 20.0]]
    ann = instances_to_annotations(insts)[1]
    assert set(ann['dp_I']) == {14.0}
    assert set(np.round(np.asarray(ann['dp_V']) * 255).astype(int).tolist()) == {200}
    assert box_iou_xywh([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
