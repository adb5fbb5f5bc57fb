# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/dataset_converters/iuv_to_densepose_coco.py and make_tiny_densepose_coco.py."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest


@pytest.fixture(scope='module')
def converter(load_tool):
    return load_tool('dataset_converters/iuv_to_densepose_coco.py')


def test_results_to_standalone_annotations(converter, repo_root, tmp_path):
    results = osp.join(repo_root, 'tests', 'data', 'densepose_real', 'example_results.json')
    out = tmp_path / 'dp.json'
    data = converter.main(['--results', results, '--out', str(out), '--num-points', '50',
                           '--image-dir', osp.join(repo_root, 'tests', 'data', 'coco_tiny')])
    assert json.loads(out.read_text()) == data
    # 3 of the 21 real predictions (low-score slivers on image 885) have no
    # body-part pixel: they are skipped
    assert len(data['annotations']) == 18
    assert [a['id'] for a in data['annotations']] == list(range(1, 19))
    assert data['images'][0] == dict(id=785, file_name='000000000785.jpg', height=425,
                                     width=640)
    assert [i['id'] for i in data['images']] == [785, 872, 885]
    assert 'height' not in data['images'][1]  # 872 is not in the image dir
    for ann in data['annotations']:
        assert len(ann['dp_masks']) == 14
        assert len(ann['dp_x']) == len(ann['dp_I']) >= 1
        assert sum(m != [] for m in ann['dp_masks']) >= 1
    n = len(data['annotations'][0]['dp_x'])
    assert 45 <= n <= 100


def test_results_merged_into_keypoints(converter, repo_root, tmp_path):
    data_dir = osp.join(repo_root, 'tests', 'data')
    out = tmp_path / 'merged.json'
    merged = converter.main([
        '--results', osp.join(data_dir, 'densepose_real', 'example_results.json'),
        '--merge-into', osp.join(data_dir, 'coco_tiny', 'test_coco.json'), '--out', str(out)])
    dp = [a for a in merged['annotations'] if 'dp_x' in a]
    assert [(a['id'], a['num_keypoints']) for a in dp] == [(442619, 17)]
    assert len(merged['annotations']) == 14


def test_iuv_image_with_instance_index(converter, tmp_path):
    iuv = np.zeros((30, 40, 3), np.uint8)
    inds = np.zeros((30, 40), np.uint8)
    iuv[2:12, 3:9] = (3, 10, 20)
    inds[2:12, 3:9] = 1
    cv2.imwrite(str(tmp_path / 'iuv.png'), iuv)
    cv2.imwrite(str(tmp_path / 'inds.png'), inds)
    cv2.imwrite(str(tmp_path / 'img.jpg'), np.zeros((30, 40, 3), np.uint8))
    data = converter.main(['--iuv', str(tmp_path / 'iuv.png'), '--inds',
                           str(tmp_path / 'inds.png'), '--image', str(tmp_path / 'img.jpg'),
                           '--image-id', '5', '--out', str(tmp_path / 'o.json')])
    assert data['images'] == [dict(id=5, file_name='img.jpg', height=30, width=40)]
    (ann, ) = data['annotations']
    assert ann['bbox'] == [3.0, 2.0, 6.0, 10.0] and set(ann['dp_I']) == {3.0}
    # fine part 3 (right hand) is coarse part 2 = dp_masks[1]
    assert [i for i, m in enumerate(ann['dp_masks']) if m != []] == [1]
    with pytest.raises(SystemExit):
        converter.parse_args(['--iuv', 'a.png', '--out', 'o.json'])  # --inds missing


def test_make_tiny_set_cli(load_tool, tmp_path, capsys):
    tool = load_tool('misc/make_tiny_densepose_coco.py')
    info = tool.main([str(tmp_path / 'tiny')])
    assert info['num_dp_instances'] == 1 and len(info['changed']) == 6
    assert '6 files written' in capsys.readouterr().out
    assert tool.main([str(tmp_path / 'tiny')])['changed'] == []
    assert 'up to date' in capsys.readouterr().out
