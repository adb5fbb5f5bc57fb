# Copyright (c) mmdensekd contributors. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from mmdensekd.structures import DensePoseChartResults
from mmdensekd.visualization import DensePoseVisualizer, split_texture_atlas

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
ATLAS = osp.join(ROOT, 'demo', 'resources', 'texture_atlas_200.png')
H, W = 80, 100


def _instances(boxes, charts, scores=None, **fields):
    """InstanceData with DensePose charts; ``charts`` = list of (labels, uv)."""
    inst = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32))
    inst.scores = torch.tensor(scores if scores is not None else [0.9] * len(boxes))
    inst.labels = torch.zeros(len(boxes), dtype=torch.long)
    inst.densepose = DensePoseChartResults([torch.as_tensor(c[0]) for c in charts],
                                           [torch.as_tensor(c[1]) for c in charts])
    for key, value in fields.items():
        inst[key] = value
    return inst


def _two_part_chart(h, w, seed=0):
    """Left half part 1, right half part 13; random U, V."""
    labels = np.ones((h, w), np.uint8)
    labels[:, w // 2:] = 13
    uv = np.random.default_rng(seed).random((2, h, w)).astype(np.float32)
    return labels, uv


def _visualizer(name, **kwargs):
    kwargs.setdefault('draw_bbox', False)
    kwargs.setdefault('draw_keypoints', False)
    return DensePoseVisualizer(name=name, **kwargs)


def test_parts_change_exactly_the_box_pixels():
    img = np.zeros((H, W, 3), np.uint8)
    # box 40 x 40 anchored at (10, 20); a second box hangs over the left and
    # bottom borders and is clipped there
    inst = _instances([[10.0, 20.0, 50.9, 60.2], [-5.7, 70.0, 30.0, 100.0]],
                      [_two_part_chart(40, 40), _two_part_chart(30, 35)])
    out = _visualizer('vis_parts', vis_mode='parts').draw_instances(img, inst, score_thr=0.5)
    changed = (out != img).any(axis=2)
    expected = np.zeros((H, W), bool)
    expected[20:60, 10:50] = True
    expected[70:80, 0:30] = True  # x0 = int(-5.7) = -5, w = 35; clipped to 0..29
    np.testing.assert_array_equal(changed, expected)
    assert not np.array_equal(out[30, 15], out[30, 45])  # parts 1 and 13 differ
    np.testing.assert_array_equal(out[30, 15], out[50, 25])  # same part, same colour
    assert out.dtype == np.uint8 and img.max() == 0  # input untouched


def test_parts_skip_background_and_low_scores():
    img = np.full((H, W, 3), 128, np.uint8)
    labels, uv = _two_part_chart(40, 40)
    labels[:10] = 0
    inst = _instances([[10, 20, 50, 60], [60, 0, 90, 30]], [(labels, uv), _two_part_chart(30, 30)],
                      scores=[0.9, 0.2])
    out = _visualizer('vis_bg', vis_mode='parts').draw_instances(img, inst, score_thr=0.5)
    changed = (out != img).any(axis=2)
    expected = np.zeros((H, W), bool)
    expected[30:60, 10:50] = True  # first 10 rows are background; 2nd instance below thr
    np.testing.assert_array_equal(changed, expected)
    # no DensePose drawing at all when vis_mode is None
    none = _visualizer('vis_none', vis_mode=None).draw_instances(img, inst, score_thr=0.5)
    np.testing.assert_array_equal(none, img)


def test_u_and_v_modes_follow_coordinates():
    img = np.zeros((H, W, 3), np.uint8)
    labels = np.ones((40, 40), np.uint8)
    u = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (40, 1))  # varies along x
    v = np.full((40, 40), 0.5, np.float32)
    inst = _instances([[0, 0, 40, 40]], [(labels, np.stack([u, v]))])
    out_u = _visualizer('vis_u', vis_mode='u', num_contours=0).draw_instances(img, inst)
    out_v = _visualizer('vis_v', vis_mode='v', num_contours=0).draw_instances(img, inst)
    assert not np.array_equal(out_u[20, 2], out_u[20, 37])  # U changes along a row
    np.testing.assert_array_equal(out_v[20, 2], out_v[20, 37])  # V is constant
    assert (out_u[40:] == 0).all() and (out_u[:, 40:] == 0).all()
    with_lines = _visualizer('vis_u_lines', vis_mode='u', num_contours=4).draw_instances(
        img, inst)
    white = (with_lines[:40, :40] == 255).all(axis=2)
    assert white.any() and (white.sum(axis=0) > 0).sum() == 3  # 3 iso-lines across U


def test_texture_layout_and_transfer():
    tile = 4
    atlas = np.zeros((6 * tile, 4 * tile, 3), np.uint8)
    for col in range(4):
        for row in range(6):
            atlas[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile] = 6 * col + row + 1
    tiles = split_texture_atlas(atlas)
    assert tiles.shape == (24, tile, tile, 3)
    assert tiles[6, 0, 0, 0] == 7 and tiles[23, 0, 0, 0] == 24  # part 7: column 1, row 0
    labels, uv = _two_part_chart(20, 20)
    inst = _instances([[5, 5, 25, 25]], [(labels, uv)])
    vis = _visualizer('vis_tex', vis_mode='texture', texture=atlas)
    out = vis.draw_instances(np.zeros((H, W, 3), np.uint8), inst)
    assert (out[5:25, 5:15] == 1).all() and (out[5:25, 15:25] == 13).all()
    assert (out[25:] == 0).all()
    real = _visualizer('vis_tex_real', vis_mode='texture', texture=ATLAS)
    assert real.texture_tiles.shape == (24, 200, 200, 3)


def test_keypoints_and_boxes_drawn():
    img = np.zeros((H, W, 3), np.uint8)
    keypoints = torch.zeros((1, 17, 2))
    scores = torch.zeros((1, 17))
    keypoints[0, 0] = torch.tensor([30., 40.])  # nose, visible
    keypoints[0, 5] = torch.tensor([20., 60.])  # left shoulder, visible
    keypoints[0, 6] = torch.tensor([60., 60.])  # right shoulder, visible
    keypoints[0, 9] = torch.tensor([90., 10.])  # left wrist, below threshold
    scores[0, [0, 5, 6]] = 0.9
    scores[0, 9] = 0.1
    inst = _instances([[5, 5, 95, 75]], [_two_part_chart(70, 90)], keypoints=keypoints,
                      keypoint_scores=scores)
    vis = _visualizer('vis_kpt', vis_mode=None, draw_keypoints=True, kpt_thr=0.3)
    out = vis.draw_instances(img, inst)
    assert out[40, 30].any() and out[60, 20].any() and out[60, 60].any()
    assert out[60, 40].any()  # shoulder-shoulder limb
    assert not out[10, 90].any()  # low-score keypoint skipped
    assert not out[0:3].any()  # nothing else drawn
    boxed = _visualizer('vis_box', vis_mode=None, draw_bbox=True).draw_instances(img, inst)
    assert boxed[75, 50].any() and boxed[40, 95].any() and not boxed[40, 50].any()


def test_add_datasample_writes_file(tmp_path):
    img = np.full((H, W, 3), 50, np.uint8)
    sample = DetDataSample()
    sample.pred_instances = _instances([[10, 20, 50, 60]], [_two_part_chart(40, 40)])
    vis = _visualizer('vis_file', vis_mode='parts', draw_bbox=True)
    vis.dataset_meta = dict(classes=('person', ))
    out_file = str(tmp_path / 'sub' / 'drawn.png')
    drawn = vis.add_datasample('x', img, sample, out_file=out_file, pred_score_thr=0.5)
    saved = cv2.imread(out_file)
    np.testing.assert_array_equal(saved[..., ::-1], drawn)
    assert (drawn != img).any()


def test_invalid_settings():
    with pytest.raises(ValueError, match='vis_mode must be one of'):
        _visualizer('vis_bad', vis_mode='rainbow')
    with pytest.raises(ValueError, match='needs a texture atlas'):
        _visualizer('vis_bad_tex', vis_mode='texture')
    with pytest.raises(ValueError, match='6 rows x 4 columns'):
        split_texture_atlas(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match='missing_atlas.png'):
        _visualizer('vis_no_file', vis_mode='texture', texture='missing_atlas.png')


def test_sigma_mode_maps_the_uv_standard_deviation():
    """sqrt(sigma_2) / sigma_max through the JET map on the foreground: a
    variance of 0 is the map's low end (blue), sigma_max^2 and above its high
    end (red); background and charts without sigma_2 are handled."""
    img = np.zeros((H, W, 3), np.uint8)
    labels = np.ones((20, 40), np.uint8)
    labels[:, :5] = 0
    variance = np.zeros((20, 40), np.float32)
    variance[:, 20:] = 0.25  # sigma 0.5 = sigma_max
    uv = np.zeros((2, 20, 40), np.float32)
    inst = _instances([[0, 0, 40, 20]], [(labels, uv)])
    inst.densepose = DensePoseChartResults(inst.densepose.labels, inst.densepose.uv,
                                           {'sigma_2': [torch.from_numpy(variance)]})
    vis = _visualizer('vis_sigma', vis_mode='sigma', alpha=1.0, sigma_max=0.5)
    out = vis.draw_instances(img, inst)
    jet = cv2.applyColorMap(np.array([[0, 255]], np.uint8), cv2.COLORMAP_JET)[0, :, ::-1]
    np.testing.assert_array_equal(out[10, 10], jet[0])
    np.testing.assert_array_equal(out[10, 30], jet[1])
    assert (out[:, :5] == 0).all() and (out[20:] == 0).all()
    plain = _instances([[0, 0, 40, 20]], [(labels, uv)])
    with pytest.raises(ValueError, match="instance 0 has no U/V confidence"):
        vis.draw_instances(img, plain)
    with pytest.raises(ValueError, match='sigma_max'):
        _visualizer('vis_sigma_bad', sigma_max=0)
