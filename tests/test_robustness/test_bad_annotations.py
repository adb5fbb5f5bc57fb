# Copyright (c) mmdensekd contributors. All rights reserved.
"""Bad-input matrix, annotations: every bad ground truth gives an error naming
the file and the image / annotation id, or (with ``skip_invalid_densepose``)
a counted, logged skip, in the dataset AND in the evaluator (which share one
validation). Each case runs under the SIGALRM limit of ``conftest.py``."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdensekd.evaluation.functional import evaluate
from mmdensekd.evaluation.metrics.densepose_metric import DensePoseMetric


def _oversized_rle() -> dict:
    """An RLE whose runs cover 512x512 pixels, labelled 256x256: pycocotools
    would decode it without checking (the hang of issue 12)."""
    rle = mask_utils.encode(np.asfortranarray(np.ones((512, 512), dtype=np.uint8)))
    return dict(size=[256, 256], counts=rle['counts'].decode('ascii'))


def _both_fail(tiny_coco, coco, match):
    """The dataset and the evaluator reject ``coco`` with the same message."""
    path = tiny_coco.write(coco)
    with pytest.raises(ValueError, match=match) as err_ds:
        tiny_coco.dataset(coco)
    assert path in str(err_ds.value)
    with pytest.raises(ValueError, match=match) as err_ev:
        evaluate(coco, [], modes=['IOU'], source=path)
    assert path in str(err_ev.value)
    with pytest.raises(ValueError, match=match):
        DensePoseMetric(ann_file=path, metrics=['IOU'])


# --- 1-2: duplicate image ids -------------------------------------------------
def test_duplicate_image_id_is_an_error(tiny_coco):
    coco = tiny_coco.copy()
    coco['images'][1]['id'] = coco['images'][0]['id']
    _both_fail(tiny_coco, coco, 'image id 785 appears 2 times')


def test_duplicate_image_id_skipped_and_counted(tiny_coco):
    coco = tiny_coco.copy()
    coco['images'][1]['id'] = coco['images'][0]['id']
    ds = tiny_coco.dataset(coco, skip_invalid_densepose=True)
    assert ds.gt_report.duplicate_images == 2
    assert ds.gt_report.orphan_annotations == 1 + 3  # the annotations of 785 and 40083
    assert sorted(ds.get_data_info(i)['img_id'] for i in range(len(ds))) == [196141, 197388]


# --- 3: unknown category ------------------------------------------------------
def test_unknown_category_id_is_an_error(tiny_coco):
    coco = tiny_coco.with_ann(1, category_id=7)
    _both_fail(tiny_coco, coco, r'image id 40083, annotation id 198196: category id 7 is not')


def test_unknown_category_skipped_keeps_image(tiny_coco):
    ds = tiny_coco.dataset(tiny_coco.with_ann(1, category_id=7), skip_invalid_densepose=True)
    assert ds.gt_report.unknown_category == 1
    info = next(ds.get_data_info(i) for i in range(len(ds))
                if ds.get_data_info(i)['img_id'] == 40083)
    assert [inst['ann_id'] for inst in info['instances']] == [230195, 1202706]


# --- 4-7: degenerate and non-finite boxes -------------------------------------
@pytest.mark.parametrize('bbox, match', [
    ([10.0, 20.0, 0.0, 50.0], 'width or height <= 0'),
    ([10.0, 20.0, -30.0, 50.0], 'width or height <= 0'),
    ([10.0, 20.0, float('inf'), 50.0], 'NaN or infinite'),
    ([float('nan'), 20.0, 30.0, 50.0], 'NaN or infinite'),
])
def test_bad_box_is_an_error(tiny_coco, bbox, match):
    coco = tiny_coco.with_ann(0, bbox=bbox)
    _both_fail(tiny_coco, coco, f'image id 785, annotation id 442619: bbox .*{match}')


def test_inf_box_skipped_and_counted(tiny_coco):
    ds = tiny_coco.dataset(tiny_coco.with_ann(0, bbox=[10.0, 20.0, float('inf'), 50.0]),
                           skip_invalid_densepose=True)
    assert ds.gt_report.invalid_bbox == 1
    info = next(ds.get_data_info(i) for i in range(len(ds))
                if ds.get_data_info(i)['img_id'] == 785)
    assert info['instances'] == []


def test_filtered_boxes_are_counted(tiny_coco):
    # a box outside the image: dropped by mmdet's rule, now counted
    ds = tiny_coco.dataset(tiny_coco.with_ann(1, bbox=[900.0, 900.0, 20.0, 20.0]))
    assert ds.num_filtered == {'box outside the image': 1}


# --- 8-12: DensePose fields ---------------------------------------------------
def test_unequal_dp_lengths(tiny_coco, make_dp_fields):
    fields = make_dp_fields()
    coco = tiny_coco.with_ann(0, dp_x=fields['dp_x'][:-1])
    _both_fail(tiny_coco, coco, 'annotation id 442619: DensePose arrays of unequal length')


def test_dp_i_outside_range(tiny_coco):
    coco = tiny_coco.with_ann(0, dp_I=[25.0] * 20)
    _both_fail(tiny_coco, coco, r'annotation id 442619: dp_I must be integers in 1\.\.24')


def test_u_of_1_5(tiny_coco):
    coco = tiny_coco.with_ann(0, dp_U=[1.5] * 20)
    _both_fail(tiny_coco, coco, r'annotation id 442619: dp_U must lie in \[0, 1\]')


def test_13_masks(tiny_coco, make_dp_fields):
    coco = tiny_coco.with_ann(0, dp_masks=make_dp_fields()['dp_masks'][:13])
    _both_fail(tiny_coco, coco, 'annotation id 442619: dp_masks must be a list of 14 RLE '
               'entries, got 13')


def test_malformed_rle_is_an_error_not_a_hang(tiny_coco, make_dp_fields):
    masks = make_dp_fields()['dp_masks']
    masks[0] = _oversized_rle()
    coco = tiny_coco.with_ann(0, dp_masks=masks)
    _both_fail(tiny_coco, coco, r'annotation id 442619: dp_masks\[0\] is a malformed RLE')


def test_malformed_rle_skipped_by_evaluator(tiny_coco, make_dp_fields):
    masks = make_dp_fields()['dp_masks']
    masks[0] = _oversized_rle()
    coco = tiny_coco.with_ann(0, dp_masks=masks)
    metric = DensePoseMetric(ann_file=tiny_coco.write(coco), metrics=['IOU'],
                             skip_invalid_densepose=True)
    ann = next(a for a in metric._gt['annotations'] if a['id'] == 442619)
    assert 'dp_masks' not in ann and 'dp_x' not in ann  # DensePose dropped, box kept
    ds = tiny_coco.dataset(coco, skip_invalid_densepose=True)
    assert ds.num_skipped_densepose == 1


# --- 13: orphan annotation ----------------------------------------------------
def test_annotation_of_unknown_image(tiny_coco):
    coco = tiny_coco.with_ann(2, image_id=123456)
    path = tiny_coco.write(coco)
    with pytest.raises(ValueError, match='image id 123456, annotation id 230195: image id '
                       'not in "images"'):
        evaluate(coco, [], modes=['IOU'], source=path)


# --- 14-15: predictions -------------------------------------------------------
def _result(bbox, score=0.9):
    return dict(image_id=785, category_id=1, bbox=bbox, score=score,
                iuv=np.zeros((3, 40, 30), dtype=np.uint8))


@pytest.mark.parametrize('bbox, score', [([280.0, 44.0, float('nan'), 40.0], 0.9),
                                         ([280.0, 44.0, 30.0, 40.0], float('inf'))])
def test_nonfinite_prediction_is_an_error(tiny_coco, bbox, score):
    results = [_result([280.0, 44.0, 30.0, 40.0]), _result(bbox, score)]
    with pytest.raises(ValueError, match=r'result 1 \(image 785\): bbox .* finite'):
        evaluate(tiny_coco.coco, results, modes=['IOU'], source='gt.json')


def test_nonfinite_prediction_in_metric_names_image(tiny_coco):
    import torch
    from mmengine.structures import InstanceData

    from mmdensekd.structures import DensePoseChartResults

    metric = DensePoseMetric(ann_file=tiny_coco.write(), metrics=['IOU'])
    charts = DensePoseChartResults(labels=[torch.zeros(4, 4, dtype=torch.uint8)],
                                   uv=[torch.zeros(2, 4, 4)])
    pred = InstanceData(bboxes=torch.tensor([[0.0, 0.0, float('nan'), 4.0]]),
                        scores=torch.tensor([0.5]), labels=torch.tensor([0]))
    pred.densepose = charts
    with pytest.raises(ValueError, match=r'image 785 \(a\.jpg\): 1 predicted box'):
        metric.process({}, [dict(img_id=785, img_path='a.jpg', pred_instances=pred)])


def test_valid_ground_truth_still_evaluates(tiny_coco):
    x, y, w, h = tiny_coco.dp_ann['bbox']
    res = dict(image_id=785, category_id=1, bbox=[x, y, w, h], score=0.9,
               iuv=np.ones((3, int(h), int(w)), dtype=np.uint8))
    stats = evaluate(tiny_coco.coco, [res], modes=['IOU'], source='gt.json',
                     show_progress=False)
    assert 0 <= stats['IOU_AP'] <= 1


def test_nonfinite_keypoint_prediction_names_image(tiny_coco):
    from mmdensekd.evaluation.metrics.rcnn_keypoint_metric import CocoKeypointMetric
    metric = CocoKeypointMetric(ann_file=tiny_coco.write())
    keypoints = np.full((2, 17, 2), 10.0)
    keypoints[1, 3, 0] = np.inf
    pred = dict(bboxes=np.array([[0.0, 0.0, 5.0, 5.0]] * 2), scores=np.array([0.9, 0.8]),
                keypoints=keypoints, keypoint_scores=np.ones((2, 17)))
    with pytest.raises(ValueError, match=r'image 785 \(b\.jpg\): prediction 1 has a NaN/Inf'):
        metric.process({}, [dict(img_id=785, img_path='b.jpg', pred_instances=pred)])
