# Copyright (c) mmdensekd contributors. All rights reserved.
import json
import os
import os.path as osp

import pytest

from mmdensekd.testing.tiny_densepose import TINY_SPLITS, build_tiny_densepose_coco

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data')
COCO_DIR = osp.join(DATA, 'coco_tiny')
RESULTS = osp.join(DATA, 'densepose_real', 'example_results.json')


def test_build_tiny_set(tmp_path):
    out = str(tmp_path / 'tiny')
    info = build_tiny_densepose_coco(out, COCO_DIR, RESULTS)
    assert info['num_images'] == 4 and info['num_dp_instances'] == 1
    assert sorted(os.listdir(osp.join(out, 'images'))) == [
        '000000000785.jpg', '000000040083.jpg', '000000196141.jpg', '000000197388.jpg']
    with open(osp.join(COCO_DIR, 'test_coco.json')) as f:
        gt = json.load(f)
    for name in TINY_SPLITS:
        with open(osp.join(out, 'annotations', name)) as f:
            data = json.load(f)
        assert len(data['annotations']) == 14
        assert data['categories'] == gt['categories']
        dp = [a for a in data['annotations'] if 'dp_x' in a]
        assert len(dp) == 1 and dp[0]['image_id'] == 785 and dp[0]['id'] == 442619
        ref = next(a for a in gt['annotations'] if a['id'] == 442619)
        assert dp[0]['keypoints'] == ref['keypoints'] and dp[0]['bbox'] == ref['bbox']
        assert len(dp[0]['dp_masks']) == 14 and len(dp[0]['dp_I']) >= 90
        assert all(1 <= i <= 24 for i in dp[0]['dp_I'])
        # the other persons keep their annotations untouched
        others = {a['id']: a for a in data['annotations'] if 'dp_x' not in a}
        assert others == {a['id']: a for a in gt['annotations'] if a['id'] != 442619}

    # idempotent: nothing is rewritten the second time
    stamp = {n: os.stat(osp.join(out, 'annotations', n)).st_mtime_ns for n in TINY_SPLITS}
    again = build_tiny_densepose_coco(out, COCO_DIR, RESULTS)
    assert again['changed'] == []
    assert stamp == {n: os.stat(osp.join(out, 'annotations', n)).st_mtime_ns
                     for n in TINY_SPLITS}


def test_missing_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json not found'):
        build_tiny_densepose_coco(str(tmp_path), COCO_DIR, str(tmp_path / 'nope.json'))
