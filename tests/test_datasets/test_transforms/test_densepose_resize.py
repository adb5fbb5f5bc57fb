# Copyright (c) mmdensekd contributors. All rights reserved.
import copy

import numpy as np
import torch

from mmdensekd.datasets.transforms import (
    LoadDensePoseAnnotations,
    LoadImageFromFileWithId,
    remap_densepose,
)
from mmdensekd.registry import TRANSFORMS
from mmdensekd.structures import DensePoseTargets


def _loaded(dp_coco, coco=None, img_id=785):
    dataset = dp_coco.dataset(dp_coco.write(coco) if coco is not None else None)
    info = next(
        dataset.get_data_info(i) for i in range(len(dataset))
        if dataset.get_data_info(i)['img_id'] == img_id)
    return LoadDensePoseAnnotations()(LoadImageFromFileWithId()(info))


def _image_xy(box, pts):
    x0, y0, x1, y1 = box
    return np.stack([x0 + pts[:, 0] * (x1 - x0) / 256, y0 + pts[:, 1] * (y1 - y0) / 256], 1)


def test_resize_scales_image_keypoints_and_keeps_box_frame(dp_coco):
    results = _loaded(dp_coco)
    before = copy.deepcopy(results)
    resize = TRANSFORMS.build(dict(type='DensePoseResize', scale=(320, 320), keep_ratio=True))
    out = resize(results)
    assert out['img'].shape[:2] == (213, 320)
    w_scale, h_scale = out['scale_factor']
    assert w_scale == 0.5
    np.testing.assert_allclose(out['gt_keypoints'],
                               before['gt_keypoints'] * np.array([w_scale, h_scale]),
                               rtol=1e-6)
    np.testing.assert_array_equal(out['gt_keypoints_visible'], before['gt_keypoints_visible'])
    np.testing.assert_allclose(out['gt_bboxes'].numpy(),
                               before['gt_bboxes'].numpy() * np.array([w_scale, h_scale] * 2),
                               rtol=1e-5)
    # the box lies inside the image: box-frame targets are untouched
    for p, q in zip(out['gt_densepose'].points, before['gt_densepose'].points):
        assert torch.equal(p, q)
    assert torch.equal(out['gt_densepose'].segms, before['gt_densepose'].segms)


def test_clipped_box_remaps_points_and_segm(dp_coco):
    # push the annotated person half outside the right border (x1 = 750 > 640)
    coco = dp_coco.modified(442619, bbox=[450.0, 44.73, 300.0, 346.68])
    results = _loaded(dp_coco, coco)
    before = copy.deepcopy(results)
    out = TRANSFORMS.build(dict(type='DensePoseResize', scale=(320, 320),
                                keep_ratio=True))(results)
    w_scale, h_scale = out['scale_factor']
    old_box = before['gt_bboxes'].numpy()[0] * np.array([w_scale, h_scale] * 2)
    new_box = out['gt_bboxes'].numpy()[0]
    assert old_box[2] > 320 and new_box[2] == 320  # clipped
    np.testing.assert_allclose(new_box[:2], old_box[:2], rtol=1e-6)

    pts = before['gt_densepose'].points[0].numpy()
    new_pts = out['gt_densepose'].points[0].numpy()
    xy_old = _image_xy(old_box, pts)
    keep = xy_old[:, 0] <= new_box[2]
    assert 0 < keep.sum() < len(pts)  # some points dropped, some kept
    assert len(new_pts) == keep.sum()
    # kept points keep their image-frame position; I, U, V unchanged
    np.testing.assert_allclose(_image_xy(new_box, new_pts), xy_old[keep], atol=1e-3)
    np.testing.assert_array_equal(new_pts[:, 2:], pts[keep][:, 2:])
    assert (new_pts[:, :2] >= 0).all() and (new_pts[:, :2] <= 256).all()
    assert out['gt_densepose'].has_dp[0]

    # segm: rows unchanged (y not clipped), column j samples the old column at
    # the same image position
    segm = before['gt_densepose'].segms[0].numpy()
    new_segm = out['gt_densepose'].segms[0].numpy()
    ratio = (new_box[2] - new_box[0]) / (old_box[2] - old_box[0])
    cols = np.floor((np.arange(256) + 0.5) * ratio).astype(int)
    np.testing.assert_array_equal(new_segm, segm[:, cols])
    assert new_segm.shape == (256, 256) and new_segm.dtype == np.uint8


def test_remap_empty_box_drops_densepose():
    pts = torch.tensor([[10.0, 20.0, 3.0, 0.5, 0.5]])
    targets = DensePoseTargets([pts], torch.ones((1, 256, 256), dtype=torch.uint8),
                               torch.tensor([True]))
    out = remap_densepose(targets, np.array([[0, 0, 10, 10]]), np.array([[10, 0, 10, 10]]))
    assert out.has_dp.tolist() == [False] and out.has_segm.tolist() == [False]
    assert out.points[0].shape == (0, 5) and int(out.segms.sum()) == 0
    # all points outside the new box -> has_dp False, segm kept
    out = remap_densepose(targets, np.array([[0, 0, 256, 256]]), np.array([[100, 0, 256, 256]]))
    assert out.points[0].shape == (0, 5) and out.has_dp.tolist() == [False]
    assert out.has_segm.tolist() == [True] and int(out.segms.sum()) == 256 * 256
