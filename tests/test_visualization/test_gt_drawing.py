# Copyright (c) mmdensekd contributors. All rights reserved.
"""Ground-truth DensePose drawing (points, coarse masks) and CSI panels."""
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from mmdensekd.structures import DensePoseChartResults, DensePoseTargets
from mmdensekd.visualization import (
    DensePoseVisualizer,
    coarse_part_palette,
    dp_points_to_image,
    draw_coarse_segm,
    draw_csi_panel,
    draw_dp_points,
    fine_part_palette,
)

H, W = 90, 120


def _targets(points, segm=None):
    segms = torch.zeros((1, 256, 256), dtype=torch.uint8) if segm is None else segm[None]
    return DensePoseTargets([torch.tensor(points, dtype=torch.float32)], segms,
                            torch.tensor([True]), torch.tensor([segm is not None]))


def test_dp_points_land_at_their_image_position_with_part_colour():
    img = np.zeros((H, W, 3), np.uint8)
    box = [20.0, 10.0, 84.0, 74.0]  # 64 x 64: box frame scale 0.25
    points = np.array([[64, 128, 1, 0.2, 0.3], [192, 32, 13, 0.9, 0.1]], np.float32)
    np.testing.assert_allclose(dp_points_to_image(points, box), [[36, 42], [68, 18]])
    draw_dp_points(img, points, box, radius=1)
    palette = fine_part_palette()
    np.testing.assert_array_equal(img[42, 36], palette[1])
    np.testing.assert_array_equal(img[18, 68], palette[13])
    assert not np.array_equal(palette[1], palette[13])
    # discs of radius 1: a 3x3 cross around each point and nothing else
    assert int((img.any(axis=2)).sum()) == 2 * 5
    # coloured by U: low U is blue-ish, high U red-ish (JET)
    uimg = draw_dp_points(np.zeros((H, W, 3), np.uint8), points, box, 'u', radius=0)
    assert uimg[42, 36, 2] > uimg[42, 36, 0] and uimg[18, 68, 0] > uimg[18, 68, 2]
    with pytest.raises(ValueError, match='color_by'):
        draw_dp_points(img, points, box, 'x')


def test_coarse_segm_is_resized_into_the_box():
    img = np.zeros((H, W, 3), np.uint8)
    segm = np.zeros((256, 256), np.uint8)
    segm[:128] = 1  # torso in the upper half of the box frame
    segm[128:, 128:] = 14  # head in the lower right quarter
    draw_coarse_segm(img, segm, [10, 20, 74, 84], alpha=1.0)
    palette = coarse_part_palette()
    np.testing.assert_array_equal(img[30, 40], palette[1])
    np.testing.assert_array_equal(img[70, 60], palette[14])
    assert not img[70, 20].any()  # lower left quarter: background
    assert not img[:20].any() and not img[:, 74:].any()  # outside the box
    # coarse colours agree with the fine part colours (torso = fine part 1)
    np.testing.assert_array_equal(palette[1], fine_part_palette()[1])


def test_add_datasample_draws_ground_truth_beside_prediction_by_default():
    img = np.full((H, W, 3), 60, np.uint8)
    sample = DetDataSample()
    gt = InstanceData(bboxes=torch.tensor([[20.0, 10.0, 84.0, 74.0]]),
                      labels=torch.tensor([0]))
    gt.densepose = _targets([[64, 128, 7, 0.5, 0.5]])
    sample.gt_instances = gt
    pred = InstanceData(bboxes=torch.tensor([[20.0, 10.0, 84.0, 74.0]]),
                        scores=torch.tensor([0.9]), labels=torch.tensor([0]))
    pred.densepose = DensePoseChartResults([torch.full((64, 64), 3, dtype=torch.uint8)],
                                           [torch.rand(2, 64, 64)])
    sample.pred_instances = pred
    vis = DensePoseVisualizer(name='gt_beside_pred', draw_bbox=False, point_radius=0)
    drawn = vis.add_datasample('x', img, sample, out_file=None)
    assert drawn.shape == (H, 2 * W, 3)
    left, right = drawn[:, :W], drawn[:, W:]
    np.testing.assert_array_equal(left[42, 36], fine_part_palette()[7])  # GT point
    assert int((left != 60).any(axis=2).sum()) == 1  # only the point on the GT side
    assert (right[10:74, 20:84] != 60).all(axis=2).all()  # predicted part 3 fills the box
    only_pred = vis.add_datasample('y', img, sample, draw_gt=False)
    assert only_pred.shape == (H, W, 3)


def test_csi_panel_shows_amplitude_over_phase():
    amp = np.zeros((3, 10, 5), np.float32)
    amp[:, :, 4] = 1.0  # last packet strong
    phase = np.linspace(-3, 3, 150, dtype=np.float32).reshape(3, 10, 5)
    panel = draw_csi_panel(np.stack([amp, phase]), height=100, width=40)
    assert panel.shape == (100, 40, 3) and panel.dtype == np.uint8
    # amplitude half: the rightmost columns (last packet) are red, the left
    # blue (the ends of the JET map)
    np.testing.assert_array_equal(panel[40, 38], [128, 0, 0])
    np.testing.assert_array_equal(panel[40, 2], [0, 0, 128])
    assert not np.array_equal(panel[60], panel[95])  # phase varies over rows
    with pytest.raises(ValueError, match='amplitude and phase'):
        draw_csi_panel(np.zeros((3, 4, 5)), height=50)
