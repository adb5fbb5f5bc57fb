# Copyright (c) mmdensekd contributors. All rights reserved.
import copy
import os.path as osp

import numpy as np
import pytest
import torch

from mmdensekd.datasets.transforms import (
    DensePoseRandomFlip,
    LoadDensePoseAnnotations,
    LoadImageFromFileWithId,
    hflip_densepose,
    load_uv_symmetry,
)
from mmdensekd.registry import TRANSFORMS
from mmdensekd.structures import COARSE_PART_FLIP, FINE_PART_FLIP, DensePoseTargets


def _loaded(dp_coco, img_id=785):
    dataset = dp_coco.dataset()
    info = next(
        dataset.get_data_info(i) for i in range(len(dataset))
        if dataset.get_data_info(i)['img_id'] == img_id)
    return LoadDensePoseAnnotations()(LoadImageFromFileWithId()(info))


def _image_positions(boxes, points):
    x0, y0, x1, y1 = boxes
    return np.stack([x0 + points[:, 0] * (x1 - x0) / 256, y0 + points[:, 1] * (y1 - y0) / 256],
                    axis=1)


def test_flip_is_consistent_and_twice_is_identity(dp_coco, uv_symmetry_file):
    flip = TRANSFORMS.build(
        dict(type='DensePoseRandomFlip', prob=1.0, uv_symmetry_file=uv_symmetry_file))
    results = _loaded(dp_coco)
    before = copy.deepcopy(results)
    width = results['img'].shape[1]
    once = flip(copy.deepcopy(results))
    assert once['flip'] and once['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(once['img'], before['img'][:, ::-1])

    # boxes: x' = w - x
    box, box_f = before['gt_bboxes'].numpy()[0], once['gt_bboxes'].numpy()[0]
    np.testing.assert_allclose(box_f, [width - box[2], box[1], width - box[0], box[3]],
                               rtol=1e-6)
    # keypoints: mirrored and left/right swapped (1 = left_eye <-> 2 = right_eye)
    kpt, kpt_f = before['gt_keypoints'][0], once['gt_keypoints'][0]
    np.testing.assert_allclose(kpt_f[2], [width - kpt[1, 0], kpt[1, 1]])
    np.testing.assert_allclose(kpt_f[0], [width - kpt[0, 0], kpt[0, 1]])
    np.testing.assert_array_equal(once['gt_keypoints_visible'][0],
                                  before['gt_keypoints_visible'][0][dp_coco_flip_indices()])

    pts, pts_f = before['gt_densepose'].points[0].numpy(), once['gt_densepose'].points[0].numpy()
    np.testing.assert_allclose(pts_f[:, 0], 256 - pts[:, 0], atol=1e-4)
    np.testing.assert_array_equal(pts_f[:, 1], pts[:, 1])
    np.testing.assert_array_equal(pts_f[:, 2], np.asarray(FINE_PART_FLIP)[pts[:, 2].astype(int)])
    # involutive test table: U' = (255 - u) / 255, V' = v / 255
    np.testing.assert_allclose(pts_f[:, 3], 1 - pts[:, 3], atol=1e-6)
    np.testing.assert_allclose(pts_f[:, 4], pts[:, 4], atol=1e-6)
    # each point keeps its mirrored image position: x_img' = W - x_img
    xy = _image_positions(box, pts)
    xy_f = _image_positions(box_f, pts_f)
    np.testing.assert_allclose(xy_f[:, 0], width - xy[:, 0], atol=1e-3)
    np.testing.assert_allclose(xy_f[:, 1], xy[:, 1], atol=1e-3)

    segm, segm_f = before['gt_densepose'].segms[0].numpy(), once['gt_densepose'].segms[0].numpy()
    np.testing.assert_array_equal(segm_f, np.asarray(COARSE_PART_FLIP)[segm[:, ::-1]])
    assert (segm_f == 3).sum() == (segm == 2).sum()  # R-Hand <-> L-Hand

    twice = flip(copy.deepcopy(once))
    np.testing.assert_array_equal(twice['img'], before['img'])
    np.testing.assert_allclose(twice['gt_bboxes'].numpy(), before['gt_bboxes'].numpy(),
                               atol=1e-4)
    np.testing.assert_allclose(twice['gt_keypoints'], before['gt_keypoints'], atol=1e-4)
    np.testing.assert_array_equal(twice['gt_keypoints_visible'], before['gt_keypoints_visible'])
    for p, q in zip(twice['gt_densepose'].points, before['gt_densepose'].points):
        np.testing.assert_allclose(p.numpy(), q.numpy(), atol=1e-4)
    assert torch.equal(twice['gt_densepose'].segms, before['gt_densepose'].segms)
    assert twice['gt_densepose'].has_dp.tolist() == before['gt_densepose'].has_dp.tolist()


def dp_coco_flip_indices():
    from mmdensekd.datasets.coco_keypoints import COCO_KEYPOINT_FLIP_INDICES
    return list(COCO_KEYPOINT_FLIP_INDICES)


def test_uv_lookup_uses_original_part_and_row_v_column_u(make_uv_symmetry_file):
    rng = np.random.default_rng(1)
    u_tables = rng.random((24, 256, 256))
    v_tables = rng.random((24, 256, 256))
    path = make_uv_symmetry_file(u_tables, v_tables)
    table = load_uv_symmetry(path)
    assert table['U'].shape == (24, 256, 256) and table['U'].dtype == np.float32
    part = np.array([3, 4, 24, 1, 2])
    u = np.array([0.0, 1.0, 10 / 255, 0.5, 0.999])
    v = np.array([0.25, 0.0, 200 / 255, 1.0, 0.1])
    points = torch.tensor(np.stack([np.full(5, 10.0), np.full(5, 20.0), part, u, v], axis=1),
                          dtype=torch.float32)
    targets = DensePoseTargets([points], torch.zeros((1, 256, 256), dtype=torch.uint8),
                               torch.tensor([True]))
    out = hflip_densepose(targets, table).points[0].numpy()
    u_idx = np.floor(u * 255 + 1e-3).astype(int)
    v_idx = np.floor(v * 255 + 1e-3).astype(int)
    np.testing.assert_array_equal(u_idx, [0, 255, 10, 127, 254])
    np.testing.assert_allclose(out[:, 3], u_tables[part - 1, v_idx, u_idx], rtol=1e-6)
    np.testing.assert_allclose(out[:, 4], v_tables[part - 1, v_idx, u_idx], rtol=1e-6)
    np.testing.assert_array_equal(out[:, 2], [4, 3, 23, 1, 2])
    np.testing.assert_allclose(out[:, 0], 246.0)


def test_flip_refused_without_symmetry_file(tmp_path):
    with pytest.raises(ValueError, match='uv_symmetry_file is required') as err:
        DensePoseRandomFlip(prob=0.5)
    assert 'dl.fbaipublicfiles.com/densepose/data/UV_symmetry_transforms.mat' in str(err.value)
    missing = str(tmp_path / 'UV_symmetry_transforms.mat')
    with pytest.raises(FileNotFoundError) as err:
        DensePoseRandomFlip(prob=0.5, uv_symmetry_file=missing)
    assert missing in str(err.value)
    assert 'https://dl.fbaipublicfiles.com/densepose/data/UV_symmetry_transforms.mat' in str(
        err.value)
    # prob 0: no table needed, never flips
    noflip = DensePoseRandomFlip(prob=0.0)
    results = noflip(dict(img=np.zeros((4, 6, 3), np.uint8)))
    assert results['flip'] is False


def test_flip_rejects_bad_table_and_direction(tmp_path, uv_symmetry_file):
    import scipy.io
    bad = str(tmp_path / 'bad.mat')
    cells = np.empty((1, 23), dtype=object)
    for i in range(23):
        cells[0, i] = np.zeros((256, 256))
    scipy.io.savemat(bad, dict(U_transforms=cells, V_transforms=cells))
    with pytest.raises(ValueError, match='must be a cell array of 24'):
        DensePoseRandomFlip(prob=1.0, uv_symmetry_file=bad)
    scipy.io.savemat(bad, dict(U_transforms=np.zeros(3)))
    with pytest.raises(ValueError, match="has no 'V_transforms'|must be a cell array"):
        DensePoseRandomFlip(prob=1.0, uv_symmetry_file=bad)
    with pytest.raises(ValueError, match="direction must be 'horizontal'"):
        DensePoseRandomFlip(prob=1.0, direction='vertical', uv_symmetry_file=uv_symmetry_file)
    assert osp.isfile(uv_symmetry_file)


def test_keypoint_only_flip_needs_no_table_but_refuses_densepose():
    flip = DensePoseRandomFlip(prob=1.0, flip_densepose=False)
    img = np.zeros((10, 20, 3), dtype=np.uint8)
    kpts = np.zeros((1, 17, 2), dtype=np.float32)
    kpts[0, 1] = [3, 4]  # left eye
    results = dict(img=img, img_shape=(10, 20), gt_keypoints=kpts,
                   gt_keypoints_visible=np.ones((1, 17), dtype=np.float32),
                   gt_densepose=DensePoseTargets.empty(1))
    out = flip(results)
    # The left eye becomes the right eye (index 2), mirrored: x' = w - x.
    assert out['gt_keypoints'][0, 2].tolist() == [17, 4]
    annotated = DensePoseTargets([torch.tensor([[1., 1., 1., 0.5, 0.5]])],
                                 torch.zeros((1, 256, 256), dtype=torch.uint8),
                                 torch.tensor([True]))
    results.update(img=img.copy(), gt_keypoints=kpts.copy(), gt_densepose=annotated)
    with pytest.raises(RuntimeError, match='refusing to flip DensePose'):
        flip(results)
