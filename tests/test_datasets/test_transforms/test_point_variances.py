# Copyright (c) mmdensekd contributors. All rights reserved.
"""Per-point U/V variances (``dp_sigma_2`` of pseudo-labels) from the
annotation file through loading, flip, clipping and packing into the
confidence-weighted DensePose loss."""
import copy

import numpy as np
import pytest
import torch

from mmdensekd.datasets.transforms import (
    DensePoseRandomFlip,
    LoadDensePoseAnnotations,
    LoadImageFromFileWithId,
    PackDensePoseInputs,
    remap_densepose,
)
from mmdensekd.models.losses import DensePoseChartLoss
from mmdensekd.models.losses.densepose_chart_loss import point_variances
from mmdensekd.structures import DensePoseChartPredictorOutput, DensePoseTargets

ANN_ID, IMG_ID = 198196, 40083  # 30 points; the image's other two people have none
# alternating variances 0.02 / 0.06: 1/s = 50 / 16.67 (mean 33.33), so the
# weights are 1.5 / 0.5
SIGMAS = np.tile([0.02, 0.06], 15)
WEIGHTS = np.tile([1.5, 0.5], 15)


def _loaded(dp_coco, **fields):
    coco = dp_coco.modified(ANN_ID, **fields) if fields else None
    dataset = dp_coco.dataset(dp_coco.write(coco) if coco is not None else None)
    info = next(
        dataset.get_data_info(i) for i in range(len(dataset))
        if dataset.get_data_info(i)['img_id'] == IMG_ID)
    return LoadDensePoseAnnotations()(LoadImageFromFileWithId()(info))


def test_loaded_as_sixth_column_and_absent_without_field(dp_coco):
    results = _loaded(dp_coco, dp_sigma_2=SIGMAS.tolist())
    dp = results['gt_densepose']
    ann = dp_coco.ann(ANN_ID)
    xyiuv = np.stack([ann[k] for k in ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')], axis=1)
    assert dp.points[0].shape == (30, 6)
    np.testing.assert_allclose(dp.points[0][:, :5].numpy(), xyiuv, rtol=1e-6)
    np.testing.assert_allclose(dp.points[0][:, 5].numpy(), SIGMAS, rtol=1e-6)
    assert dp.points[1].shape == (0, 5)
    # the same annotation without dp_sigma_2: five columns, variance NaN
    # (weight 1 in the loss)
    plain = _loaded(dp_coco)['gt_densepose']
    assert plain.points[0].shape == (30, 5)
    assert torch.isnan(point_variances(plain)).all()


def test_flip_keeps_each_variance_with_its_point(dp_coco, uv_symmetry_file):
    results = _loaded(dp_coco, dp_sigma_2=SIGMAS.tolist())
    before = results['gt_densepose'].points[0].numpy()
    flip = DensePoseRandomFlip(prob=1.0, uv_symmetry_file=uv_symmetry_file)
    after = flip(copy.deepcopy(results))['gt_densepose'].points[0].numpy()
    assert after.shape == (30, 6)
    # row j is still point j (mirrored x, same y) and keeps its variance
    np.testing.assert_allclose(after[:, 0], 256 - before[:, 0], atol=1e-4)
    np.testing.assert_array_equal(after[:, 1], before[:, 1])
    np.testing.assert_array_equal(after[:, 5], before[:, 5])
    twice = flip(flip(copy.deepcopy(results)))['gt_densepose'].points[0].numpy()
    np.testing.assert_allclose(twice, before, atol=1e-4)


def test_clipped_box_drops_points_with_their_variances():
    pts = torch.tensor([[10., 10., 1, 0.5, 0.5, 0.1], [200., 10., 2, 0.5, 0.5, 0.2],
                        [250., 20., 3, 0.5, 0.5, 0.3]])
    targets = DensePoseTargets([pts], torch.zeros((1, 256, 256), dtype=torch.uint8),
                               torch.tensor([True]))
    # box [0, 256] clipped to [0, 220]: x' = x * 256 / 220, the third point
    # (x' = 290.9) leaves the box
    out = remap_densepose(targets, np.array([[0, 0, 256, 256]]), np.array([[0, 0, 220, 256]]))
    kept = out.points[0]
    assert kept.shape == (2, 6)
    torch.testing.assert_close(kept[:, 2], torch.tensor([1., 2.]))
    torch.testing.assert_close(kept[:, 5], torch.tensor([0.1, 0.2]))
    # an emptied box keeps the column count
    gone = remap_densepose(targets, np.array([[0, 0, 256, 256]]), np.array([[5, 0, 5, 256]]))
    assert gone.points[0].shape == (0, 6) and not bool(gone.has_dp[0])


def test_packed_variances_give_the_hand_computed_loss_weights(dp_coco):
    packed = PackDensePoseInputs()(_loaded(dp_coco, dp_sigma_2=SIGMAS.tolist()))
    gt = packed['data_samples'].gt_instances
    dp = gt.densepose
    np.testing.assert_allclose(point_variances(dp).numpy(), SIGMAS, rtol=1e-6)

    # the loss with proposals = GT boxes (every point inside): U and V are
    # 1.5 / 0.5 times each point's own term
    boxes = gt.bboxes.tensor if hasattr(gt.bboxes, 'tensor') else gt.bboxes
    g = torch.Generator().manual_seed(0)
    shape = (len(dp), 25, 8, 8)
    pred = DensePoseChartPredictorOutput(coarse_segm=torch.randn((len(dp), 2, 8, 8), generator=g),
                                         fine_segm=torch.randn(shape, generator=g),
                                         u=torch.rand(shape, generator=g),
                                         v=torch.rand(shape, generator=g))
    on = DensePoseChartLoss(point_weighting=True)(pred, boxes, boxes, dp)
    off = DensePoseChartLoss()(pred, boxes, boxes, dp)
    first = pred[0:1]
    per_point = []
    for j in range(30):
        one = DensePoseTargets([dp.points[0][j:j + 1, :5]], dp.segms[:1], dp.has_dp[:1],
                               dp.has_segm[:1])
        per_point.append(DensePoseChartLoss()(first, boxes[:1], boxes[:1], one))
    for key in ('loss_densepose_U', 'loss_densepose_V'):
        expected = sum(w * p[key] for w, p in zip(WEIGHTS, per_point))
        torch.testing.assert_close(on[key], expected.float(), rtol=1e-5, atol=1e-7)
        assert not torch.allclose(on[key], off[key])
    torch.testing.assert_close(on['loss_densepose_I'], off['loss_densepose_I'])


@pytest.mark.parametrize('value, message', [
    (SIGMAS[:29].tolist(), 'has 29 values for 30 DensePose points'),
    (np.where(np.arange(30) == 4, -0.1, SIGMAS).tolist(), r'finite variances > 0, got \[-0.1\]'),
    (np.where(np.arange(30) == 4, 0.0, SIGMAS).tolist(), r'finite variances > 0, got \[0.0\]'),
    (np.where(np.arange(30) == 4, np.nan, SIGMAS).tolist(), r'finite variances > 0, got \[nan\]'),
    (['a'] * 30, 'dp_sigma_2 is not a list of numbers'),
])
def test_bad_variances_name_the_annotation(dp_coco, value, message):
    with pytest.raises(ValueError, match=message) as err:
        _loaded(dp_coco, dp_sigma_2=value)
    assert f'annotation id {ANN_ID}' in str(err.value) and 'dp_sigma_2' in str(err.value)


def test_bad_variances_of_hand_built_instances_name_the_annotation():
    """Instances built elsewhere than DensePoseCocoDataset are checked by the
    loading transform too."""
    dp = dict(x=np.array([1., 2.]), y=np.array([1., 2.]), I=np.array([1., 2.]),
              U=np.array([.5, .5]), V=np.array([.5, .5]), sigma_2=np.array([0.1]))
    results = dict(img_id=7, img_path='a.jpg', instances=[
        dict(ann_id=42, bbox=[0, 0, 10, 10], bbox_label=0, ignore_flag=0, dp=dp, dp_masks=None)
    ])
    with pytest.raises(ValueError, match='a.jpg: image id 7, annotation id 42: dp_sigma_2 has 1'):
        LoadDensePoseAnnotations(with_keypoints=False)(results)


def test_gt_points_with_variances_are_drawn_like_without():
    from mmdensekd.visualization.densepose_drawing import draw_dp_points
    pts = np.array([[128, 128, 3, 0.5, 0.5, 0.02], [64, 200, 20, 0.1, 0.9, 0.06]], np.float32)
    img = np.zeros((60, 60, 3), np.uint8)
    with_var = draw_dp_points(img.copy(), pts, [0, 0, 50, 50])
    without = draw_dp_points(img.copy(), pts[:, :5], [0, 0, 50, 50])
    assert with_var.any()
    np.testing.assert_array_equal(with_var, without)
