# Copyright (c) mmdensekd contributors. All rights reserved.
import copy
import logging

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from pycocotools import mask as mask_utils

from mmdensekd.datasets import DensePoseCocoDataset
from mmdensekd.datasets.densepose_parsing import rle_run_lengths
from mmdensekd.registry import DATASETS


def _instances_by_ann_id(dataset):
    return {
        inst['ann_id']: (info['img_id'], inst)
        for info in (dataset.get_data_info(i) for i in range(len(dataset)))
        for inst in info['instances']
    }


def test_parses_boxes_keypoints_and_every_dp_field(dp_coco):
    dataset = dp_coco.dataset()
    assert len(dataset) == 4
    assert dataset.metainfo['classes'] == ('person', )
    assert len(dataset.metainfo['keypoint_names']) == 17
    assert tuple(dataset.metainfo['flip_indices'][:3]) == (0, 2, 1)
    by_id = _instances_by_ann_id(dataset)
    assert len(by_id) == 14
    for ann in dp_coco.coco['annotations']:
        img_id, inst = by_id[ann['id']]
        assert img_id == ann['image_id']
        x, y, w, h = ann['bbox']
        np.testing.assert_allclose(inst['bbox'], [x, y, x + w, y + h])
        assert inst['bbox_label'] == 0 and inst['ignore_flag'] == 0
        kpts = np.asarray(ann['keypoints'], dtype=np.float32).reshape(17, 3)
        np.testing.assert_array_equal(inst['keypoints'], kpts[:, :2])
        np.testing.assert_array_equal(inst['keypoints_visible'], kpts[:, 2] > 0)
        assert inst['keypoints'].shape == (17, 2)
        if 'dp_x' not in ann:
            assert inst['dp'] is None and inst['dp_masks'] is None
            assert inst['has_dp'] is False
            continue
        assert inst['has_dp'] is True
        for key, name in zip('xyIUV', ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')):
            np.testing.assert_array_equal(inst['dp'][key], ann[name])
            assert inst['dp'][key].shape == (30, )
        if 'dp_masks' not in ann:
            assert inst['dp_masks'] is None
            continue
        assert len(inst['dp_masks']) == 14
        for i, (rle, mask) in enumerate(zip(inst['dp_masks'], dp_coco.masks[ann['id']])):
            if not mask.any():
                assert rle is None
                continue
            decoded = mask_utils.decode(dict(size=rle['size'], counts=rle['counts'].encode()))
            np.testing.assert_array_equal(decoded, mask, err_msg=f'mask {i}')


def test_dataset_is_registered_and_marks_without_dropping(dp_coco):
    dataset = DATASETS.build(
        dict(type='DensePoseCocoDataset', ann_file=dp_coco.write(),
             data_prefix=dict(img=dp_coco.img_dir), pipeline=[]))
    assert isinstance(dataset, DensePoseCocoDataset)
    flags = [inst['has_dp'] for _, inst in _instances_by_ann_id(dataset).values()]
    assert sum(flags) == 3 and len(flags) == 14


def test_crowd_instances_become_ignored(dp_coco):
    coco = dp_coco.modified(230195, iscrowd=1)
    dataset = dp_coco.dataset(dp_coco.write(coco))
    by_id = _instances_by_ann_id(dataset)
    assert by_id[230195][1]['ignore_flag'] == 1
    assert by_id[198196][1]['ignore_flag'] == 0


def test_filter_cfg_as_mmdet(dp_coco):
    coco = copy.deepcopy(dp_coco.coco)
    coco['images'].append(dict(id=999, file_name='000000000785.jpg', height=425, width=640))
    path = dp_coco.write(coco)
    assert len(dp_coco.dataset(path)) == 5
    filtered = dp_coco.dataset(path, filter_cfg=dict(filter_empty_gt=True))
    assert len(filtered) == 4
    assert 999 not in [filtered.get_data_info(i)['img_id'] for i in range(4)]


BAD_FIELDS = {
    'unequal_length': (dict(dp_U=[0.5] * 29), 'unequal length'),
    'I_zero': (dict(dp_I=[0.0] * 30), 'dp_I must be integers in 1..24'),
    'I_25': (dict(dp_I=[25.0] * 30), 'dp_I must be integers in 1..24'),
    'I_fraction': (dict(dp_I=[2.5] * 30), 'dp_I must be integers in 1..24'),
    'U_above_1': (dict(dp_U=[1.2] * 30), 'dp_U must lie in [0, 1]'),
    'V_negative': (dict(dp_V=[-0.1] * 30), 'dp_V must lie in [0, 1]'),
    'x_outside_box': (dict(dp_x=[300.0] * 30), 'dp_x must lie in [0, 256]'),
    'missing_V': (dict(dp_V=None), 'incomplete DensePose points'),
    'masks_13': (dict(dp_masks=[[]] * 13), 'dp_masks must be a list of 14'),
    'rle_wrong_size': (dict(dp_masks=[dict(size=[128, 128], counts='PPd0')] + [[]] * 13),
                       'dp_masks[0] has size [128, 128]'),
    'rle_garbage': (dict(dp_masks=[[]] * 5 + [dict(size=[256, 256], counts='abc')] + [[]] * 8),
                    'dp_masks[5] is a malformed RLE'),
    'rle_short': (dict(dp_masks=[[]] * 2 + [dict(size=[256, 256], counts='0')] + [[]] * 11),
                  'dp_masks[2] is a malformed RLE'),
    'rle_uncompressed_bad': (dict(dp_masks=[dict(size=[256, 256], counts=[5, 7])] + [[]] * 13),
                             'dp_masks[0] is a malformed uncompressed RLE'),
}


@pytest.mark.parametrize('case', sorted(BAD_FIELDS))
def test_bad_densepose_raises_naming_image_and_annotation(dp_coco, case):
    fields, message = BAD_FIELDS[case]
    coco = dp_coco.modified(442619, **fields)
    ann = next(a for a in coco['annotations'] if a['id'] == 442619)
    for key in [k for k, v in fields.items() if v is None]:
        del ann[key]
    path = dp_coco.write(coco)
    with pytest.raises(ValueError) as err:
        dp_coco.dataset(path)
    text = str(err.value)
    assert message in text
    assert 'image id 785' in text and 'annotation id 442619' in text
    assert path in text


def test_bad_keypoints_raise_naming_ids(dp_coco):
    coco = dp_coco.modified(230195, keypoints=[1, 2, 2] * 16)
    with pytest.raises(ValueError, match=r'image id 40083, annotation id 230195: keypoints'):
        dp_coco.dataset(dp_coco.write(coco))


def test_skip_invalid_densepose_counts_and_logs(dp_coco, tmp_path):
    coco = dp_coco.modified(442619, dp_I=[0.0] * 30)
    ann = next(a for a in coco['annotations'] if a['id'] == 198196)
    ann['dp_masks'] = ann['dp_masks'][:13]
    logger = MMLogger.get_instance('test_dp_skip', log_level='INFO')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        dataset = dp_coco.dataset(dp_coco.write(coco), skip_invalid_densepose=True)
    finally:
        logger.removeHandler(handler)
    assert dataset.num_skipped_densepose == 2
    by_id = _instances_by_ann_id(dataset)
    assert len(by_id) == 14  # boxes are kept
    for ann_id in (442619, 198196):
        inst = by_id[ann_id][1]
        assert inst['dp'] is None and inst['dp_masks'] is None and not inst['has_dp']
        assert len(inst['bbox']) == 4
    assert by_id[460541][1]['has_dp']  # valid annotations are untouched
    messages = [r.getMessage() for r in records]
    assert any('2 instance(s)' in m for m in messages), messages


def test_skip_invalid_densepose_type_checked(dp_coco):
    with pytest.raises(TypeError, match='skip_invalid_densepose'):
        dp_coco.dataset(skip_invalid_densepose='yes')


def test_rle_run_lengths_match_pycocotools():
    rng = np.random.default_rng(3)
    for density in (0.0, 0.02, 0.5, 1.0):
        mask = np.asfortranarray((rng.random((256, 256)) < density).astype(np.uint8))
        rle = mask_utils.encode(mask)
        runs = rle_run_lengths(rle['counts'])
        assert runs.sum() == 256 * 256 and (runs >= 0).all()
        # runs alternate 0/1 in column-major order: rebuild the mask from them
        values = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
        np.testing.assert_array_equal(values.reshape(256, 256, order='F'), mask)
        assert int(runs[1::2].sum()) == int(mask_utils.area(rle))
    with pytest.raises(ValueError, match='truncated'):
        rle_run_lengths('abc')


def test_full_pipeline_from_config(dp_coco, uv_symmetry_file):
    init_default_scope('mmdet')  # as our configs (default_scope='mmdet')
    pipeline = [
        dict(type='LoadImageFromFileWithId'),
        dict(type='LoadDensePoseAnnotations'),
        dict(type='DensePoseResize', scale=(320, 320), keep_ratio=True),
        dict(type='DensePoseRandomFlip', prob=1.0, uv_symmetry_file=uv_symmetry_file),
        dict(type='PackDensePoseInputs'),
    ]
    dataset = dp_coco.dataset(pipeline=pipeline)
    index = next(i for i in range(len(dataset)) if dataset.get_data_info(i)['img_id'] == 785)
    sample = dataset[index]
    assert sample['inputs'].shape == (3, 213, 320)
    data_sample = sample['data_samples']
    assert data_sample.flip is True and data_sample.scale_factor[0] == 0.5
    gt = data_sample.gt_instances
    assert gt.densepose.has_dp.tolist() == [True]
    assert gt.keypoints.shape == (1, 17, 2)
    raw = dp_coco.ann(442619)
    # the flipped points are the mirrored annotated points, labels swapped
    expected_x = 256 - np.asarray(raw['dp_x'], dtype=np.float32)
    np.testing.assert_allclose(gt.densepose.points[0][:, 0].numpy(), expected_x, atol=1e-4)
    # the nose keypoint is mirrored in the resized image: x' = 320 - 0.5 * x
    np.testing.assert_allclose(gt.keypoints[0, 0, 0].item(), 320 - 0.5 * raw['keypoints'][0],
                               atol=1e-4)


def test_missing_image_names_path_and_id(dp_coco, tmp_path):
    init_default_scope('mmdet')
    dataset = dp_coco.dataset(data_prefix=dict(img=str(tmp_path)),
                              pipeline=[dict(type='LoadImageFromFileWithId')])
    info = dataset.get_data_info(0)
    with pytest.raises(FileNotFoundError) as err:
        dataset.prepare_data(0)
    assert info['img_path'] in str(err.value)
    assert f"image id {info['img_id']}" in str(err.value)
