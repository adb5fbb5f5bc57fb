# Copyright (c) mmdensekd contributors. All rights reserved.
"""The ground-truth validation shared by the dataset and the evaluator."""
import copy
import logging

import pytest

from mmdensekd.datasets.densepose_validation import (
    GTValidationReport,
    check_bbox,
    validate_densepose_gt,
)


def _gt():
    return dict(
        images=[dict(id=1, file_name='a.jpg', width=100, height=80),
                dict(id=2, file_name='b.jpg', width=100, height=80)],
        categories=[dict(id=1, name='person')],
        annotations=[
            dict(id=10, image_id=1, category_id=1, bbox=[1, 2, 30, 40], area=1200),
            dict(id=11, image_id=2, category_id=1, bbox=[1, 2, 30, 40], area=1200,
                 dp_x=[1.0], dp_y=[2.0], dp_I=[3.0], dp_U=[0.5], dp_V=[2.0]),
            dict(id=12, image_id=2, category_id=5, bbox=[1, 2, 30, 40], area=1200),
        ])


def test_check_bbox():
    assert check_bbox([1, 2, 3, 4], 'x') == [1.0, 2.0, 3.0, 4.0]
    for bad, match in [([1, 2, 3], '4 numbers'), (None, '4 numbers'),
                       ([1, 2, float('nan'), 4], 'NaN'), ([1, 2, 0, 4], '<= 0')]:
        with pytest.raises(ValueError, match=f'f.json: .*{match}'):
            check_bbox(bad, 'f.json')


def test_first_error_names_file_and_ids():
    with pytest.raises(ValueError, match=r'f.json: image id 2, annotation id 11: dp_V'):
        validate_densepose_gt(_gt(), 'f.json')
    # the dataset parses DensePose itself: without that check, the category fails
    with pytest.raises(ValueError, match='annotation id 12: category id 5'):
        validate_densepose_gt(_gt(), 'f.json', check_densepose=False)


def test_skip_counts_and_never_modifies_annotation_dicts():
    gt = _gt()
    original = copy.deepcopy(gt)
    ann_11 = gt['annotations'][1]
    report = validate_densepose_gt(gt, 'f.json', skip_invalid=True)
    assert report.counts() == dict(duplicate_images=0, orphan_annotations=0,
                                   unknown_category=1, invalid_bbox=0, invalid_densepose=1,
                                   invalid_keypoints=0)
    assert [a['id'] for a in gt['annotations']] == [10, 11]
    assert 'dp_x' not in gt['annotations'][1] and ann_11 == original['annotations'][1]
    assert 'f.json' in report.summary('f.json') and report.total == 2


def test_duplicate_images_drop_their_annotations():
    gt = _gt()
    gt['images'].append(dict(id=1, file_name='c.jpg', width=10, height=10))
    report = validate_densepose_gt(gt, 'f.json', skip_invalid=True, check_densepose=False)
    assert report.duplicate_images == 2 and report.orphan_annotations == 1
    assert [i['id'] for i in gt['images']] == [2]


def test_dataset_logs_counts(tmp_path, dp_coco):
    from mmengine.logging import MMLogger
    coco = copy.deepcopy(dp_coco.coco)
    coco['annotations'][1]['bbox'] = [1.0, 2.0, float('inf'), 3.0]
    logger = MMLogger.get_instance('test_gt_validation', log_level='INFO')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        ds = dp_coco.dataset(dp_coco.write(coco), skip_invalid_densepose=True)
    finally:
        logger.removeHandler(handler)
    assert isinstance(ds.gt_report, GTValidationReport) and ds.gt_report.invalid_bbox == 1
    assert any('invalid bbox: 1' in r.getMessage() for r in records)


@pytest.mark.parametrize('keypoints, match', [
    ([10, 20, 2, 30, 40, -1], r'keypoint 1 has visibility -1 < 0'),
    ([10, float('inf'), 2], r'keypoint 0 \(10.0, inf, v=2.0\) is not finite'),
    ([10, 20], r'keypoints must be a flat list of x, y, v numbers'),
    (['10', 20, 2], r'keypoints must be a flat list of x, y, v numbers'),
])
def test_bad_keypoints_named_or_counted(keypoints, match):
    gt = dict(images=[dict(id=1, width=64, height=64)], categories=[dict(id=1)],
              annotations=[dict(id=5, image_id=1, category_id=1, bbox=[1, 2, 30, 40],
                                keypoints=keypoints),
                           dict(id=6, image_id=1, category_id=1, bbox=[1, 2, 30, 40],
                                keypoints=[10, 20, 2, 0, 0, 0])])
    with pytest.raises(ValueError, match=r'f\.json: image id 1, annotation id 5: ' + match):
        validate_densepose_gt(copy.deepcopy(gt), 'f.json', check_densepose=False)
    report = validate_densepose_gt(gt, 'f.json', skip_invalid=True, check_densepose=False)
    assert report.invalid_keypoints == 1 and [a['id'] for a in gt['annotations']] == [6]
