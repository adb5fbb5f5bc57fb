# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/analysis/browse_dataset.py draws the pipeline's ground truth."""
import json
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from pycocotools import mask as mask_utils

from mmdensekd.visualization import DensePoseVisualizer, fine_part_palette

IMG = '000000000785.jpg'
BOX = [280.0, 40.0, 200.0, 320.0]  # x, y, w, h of the person
#: dp_x, dp_y (256 box frame), I
POINTS = [(64.0, 64.0, 1), (192.0, 64.0, 13), (128.0, 200.0, 23)]


def write_tiny_densepose_coco(root, repo_root) -> str:
    """One real COCO image with one person carrying 3 DensePose points and a
    torso mask; returns the annotation file name."""
    (root / 'images').mkdir(parents=True, exist_ok=True)
    shutil.copy(osp.join(repo_root, 'tests', 'data', 'coco_tiny', IMG), root / 'images' / IMG)
    torso = np.zeros((256, 256), np.uint8, order='F')
    torso[100:180, 60:200] = 1
    rle = mask_utils.encode(np.asfortranarray(torso))
    rle['counts'] = rle['counts'].decode('ascii')
    ann = dict(id=1, image_id=785, category_id=1, iscrowd=0, bbox=BOX, area=BOX[2] * BOX[3],
               keypoints=[0] * 51, num_keypoints=0,
               dp_x=[p[0] for p in POINTS], dp_y=[p[1] for p in POINTS],
               dp_I=[float(p[2]) for p in POINTS], dp_U=[0.5] * 3, dp_V=[0.5] * 3,
               dp_masks=[rle] + [[]] * 13)
    coco = dict(images=[dict(id=785, file_name=IMG, height=425, width=640)],
                annotations=[ann], categories=[dict(id=1, name='person')])
    (root / 'ann.json').write_text(json.dumps(coco))
    return 'ann.json'


def _options(root, phase):
    key = f'{phase}_dataloader.dataset'
    return [f'{key}.data_root={root}/', f'{key}.ann_file=ann.json',
            f'{key}.data_prefix.img=images/']


@pytest.mark.parametrize('phase', ['train', 'val'])
def test_browse_draws_dp_points_at_their_image_positions(load_tool, tiny_config, repo_root,
                                                         tmp_path, phase):
    tool = load_tool('analysis/browse_dataset.py')
    root = tmp_path / 'data'
    write_tiny_densepose_coco(root, repo_root)
    out_dir = tmp_path / 'browse'
    written = tool.main([tiny_config, '--output-dir', str(out_dir), '--not-show', '--phase',
                         phase, '--cfg-options', *_options(root, phase)])
    assert written == [str(out_dir / '000000000785.png')]
    drawn = cv2.cvtColor(cv2.imread(written[0]), cv2.COLOR_BGR2RGB)
    # the tiny config resizes 640x425 to fit (480, 288): what the model sees
    assert drawn.shape[0] == 288 and drawn.shape[1] < 640
    sx, sy = drawn.shape[1] / 640, drawn.shape[0] / 425
    palette = fine_part_palette()
    x0, y0, w, h = BOX
    for dp_x, dp_y, part in POINTS:
        x = (x0 + dp_x * w / 256) * sx
        y = (y0 + dp_y * h / 256) * sy
        np.testing.assert_array_equal(drawn[int(round(y)), int(round(x))], palette[part])
    # the torso mask is blended inside the box frame, not outside
    original = cv2.resize(cv2.imread(str(root / 'images' / IMG)), drawn.shape[1::-1])
    original = cv2.cvtColor(original, cv2.COLOR_BGR2RGB).astype(np.int16)
    diff = np.abs(drawn.astype(np.int16) - original).max(axis=2)
    ty, tx = int((y0 + 140 * h / 256) * sy), int((x0 + 100 * w / 256) * sx)
    assert diff[ty, tx] > 20  # inside the torso mask
    assert np.median(diff[:, :int(x0 * sx) - 5]) < 10  # left of the person: untouched


def test_draw_sample_adds_csi_panel_for_paired_wifi_inputs(load_tool):
    tool = load_tool('analysis/browse_dataset.py')
    img = torch.zeros((3, 60, 80), dtype=torch.uint8)
    csi = torch.stack([torch.rand(3, 114, 10), torch.rand(3, 114, 10)])
    sample = DetDataSample(metainfo=dict(img_shape=(60, 80)))
    vis = DensePoseVisualizer(name='browse_csi_test')
    drawn = tool.draw_sample(dict(inputs=dict(img=img, csi=csi), data_samples=sample), vis)
    assert drawn.shape == (60, 80 + 30, 3)
    assert not drawn[:, :80].any() and drawn[:, 80:].any()  # black frame, coloured CSI
    csi_only = tool.draw_sample(dict(inputs=dict(csi=csi), data_samples=sample), vis)
    assert csi_only.shape == (60, 110, 3)
