# Copyright (c) mmdensekd contributors. All rights reserved.
import shutil

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from pycocotools import mask as mask_utils

from mmdensekd.datasets.transforms import (
    LoadDensePoseAnnotations,
    LoadImageFromFileWithId,
    merge_dp_masks,
)
from mmdensekd.registry import TRANSFORMS
from mmdensekd.structures import DensePoseTargets


def _info(dataset, img_id):
    return next(
        dataset.get_data_info(i) for i in range(len(dataset))
        if dataset.get_data_info(i)['img_id'] == img_id)


def test_load_densepose_annotations(dp_coco):
    dataset = dp_coco.dataset()
    results = LoadDensePoseAnnotations()(_info(dataset, 40083))
    assert isinstance(results['gt_bboxes'], HorizontalBoxes)
    assert results['gt_bboxes'].shape == (3, 4)
    np.testing.assert_array_equal(results['gt_bboxes_labels'], [0, 0, 0])
    np.testing.assert_array_equal(results['gt_ignore_flags'], [False, False, False])
    assert results['gt_keypoints'].shape == (3, 17, 2)
    assert results['gt_keypoints'].dtype == np.float32
    assert results['gt_keypoints_visible'].shape == (3, 17)
    raw = np.asarray(dp_coco.ann(198196)['keypoints'], dtype=np.float32).reshape(17, 3)
    np.testing.assert_array_equal(results['gt_keypoints'][0], raw[:, :2])
    np.testing.assert_array_equal(results['gt_keypoints_visible'][0], raw[:, 2] > 0)

    dp = results['gt_densepose']
    assert isinstance(dp, DensePoseTargets) and len(dp) == 3
    assert dp.has_dp.tolist() == [True, False, False]
    assert dp.has_segm.tolist() == [True, False, False]
    ann = dp_coco.ann(198196)
    expected = np.stack([ann[k] for k in ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')], axis=1)
    assert dp.points[0].dtype == torch.float32 and dp.points[0].shape == (30, 5)
    np.testing.assert_allclose(dp.points[0].numpy(), expected, rtol=1e-6)
    assert dp.points[1].shape == (0, 5)
    # merged segmentation: value i + 1 where part i is set (later parts on top)
    merged = np.zeros((256, 256), dtype=np.uint8)
    for i, mask in enumerate(dp_coco.masks[198196]):
        merged[mask > 0] = i + 1
    assert dp.segms.dtype == torch.uint8 and dp.segms.shape == (3, 256, 256)
    np.testing.assert_array_equal(dp.segms[0].numpy(), merged)
    assert set(np.unique(merged)) - {0} <= set(range(1, 15))
    assert int(dp.segms[1:].sum()) == 0


def test_points_without_masks_and_registry(dp_coco):
    dataset = dp_coco.dataset()
    loader = TRANSFORMS.build(dict(type='LoadDensePoseAnnotations', with_keypoints=False))
    results = loader(_info(dataset, 196141))
    assert 'gt_keypoints' not in results
    dp = results['gt_densepose']
    assert dp.has_dp.tolist() == [True, False, False, False, False]
    assert dp.has_segm.tolist() == [False] * 5
    assert dp.points[0].shape == (30, 5)


def test_merge_dp_masks_uncompressed_and_errors():
    mask = np.zeros((256, 256), dtype=np.uint8)
    mask[10:20, 30:50] = 1
    flat = mask.flatten(order='F')
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    assert flat[0] == 0
    segm = merge_dp_masks([[]] * 13 + [dict(size=[256, 256], counts=runs)])
    np.testing.assert_array_equal(segm, mask * 14)
    compressed = mask_utils.encode(np.asfortranarray(mask))
    segm = merge_dp_masks([dict(size=[256, 256], counts=compressed['counts'].decode())] +
                          [None] * 13)
    np.testing.assert_array_equal(segm, mask)
    with pytest.raises(ValueError, match='image id 5, annotation id 6: dp_masks must have 14'):
        merge_dp_masks([[]] * 3, where='x.jpg: image id 5, annotation id 6')


def test_load_image_with_id(tmp_path, dp_coco):
    loader = TRANSFORMS.build(dict(type='LoadImageFromFileWithId'))
    assert isinstance(loader, LoadImageFromFileWithId)
    path = f'{dp_coco.img_dir}/000000000785.jpg'
    results = loader(dict(img_path=path, img_id=785))
    assert results['img'].shape == (425, 640, 3)
    assert results['ori_shape'] == (425, 640)

    missing = str(tmp_path / 'nope.jpg')
    with pytest.raises(FileNotFoundError) as err:
        loader(dict(img_path=missing, img_id=42))
    assert missing in str(err.value) and 'image id 42' in str(err.value)
    assert LoadImageFromFileWithId(ignore_empty=True)(dict(img_path=missing, img_id=1)) is None

    corrupt = tmp_path / 'corrupt.jpg'
    corrupt.write_bytes(b'not an image')
    with pytest.raises(OSError, match=r'corrupt.jpg of image id 7'):
        loader(dict(img_path=str(corrupt), img_id=7))

    copied = tmp_path / 'copy.jpg'
    shutil.copy(path, copied)
    assert loader(dict(img_path=str(copied), img_id=1))['img'].shape == (425, 640, 3)
