# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch
from mmengine.structures import InstanceData

from mmdensekd.models.distillers.pseudo_labels import (
    chart_results_to_targets,
    greedy_box_matching,
    merge_teacher_predictions,
    predictions_to_gt_instances,
)
from mmdensekd.structures import FINE_TO_COARSE, DensePoseChartResults


def test_charts_become_box_frame_targets():
    labels = torch.zeros((40, 20), dtype=torch.uint8)
    labels[:, :10] = 3  # left half of the box: fine part 3 (right hand)
    uv = torch.zeros((2, 40, 20))
    uv[0, :, :10], uv[1, :, :10] = 0.2, 0.6
    empty = DensePoseChartResults([torch.zeros((5, 5), dtype=torch.uint8)],
                                  [torch.zeros((2, 5, 5))])
    charts = DensePoseChartResults.cat([DensePoseChartResults([labels], [uv]), empty])

    boxes = torch.tensor([[10., 20., 30., 60.], [0., 0., 5., 5.]])
    targets = chart_results_to_targets(charts, boxes, num_points=50)
    assert targets.has_dp.tolist() == [True, False]
    pts = targets.points[0]
    assert len(pts) == 50 and len(targets.points[1]) == 0
    # Points lie in the left half of the 256x256 box frame, carry the part
    # and its U, V (quantised to 1/255 as in the results format).
    assert torch.all(pts[:, 0] < 128) and torch.all((pts[:, 1] > 0) & (pts[:, 1] < 256))
    assert torch.all(pts[:, 2] == 3)
    assert torch.allclose(pts[:, 3], torch.full((50, ), 51 / 255))
    assert torch.allclose(pts[:, 4], torch.full((50, ), 153 / 255))
    # The merged segmentation holds the coarse part of the label.
    segm = targets.segms[0]
    assert segm.shape == (256, 256)
    assert torch.all(segm[:, :128] == FINE_TO_COARSE[3]) and torch.all(segm[:, 128:] == 0)
    # Sampling is seeded: the same seed gives the same points.
    again = chart_results_to_targets(charts, boxes, num_points=50)
    assert torch.equal(again.points[0], pts)


def _chart(h, w, part):
    return DensePoseChartResults([torch.full((h, w), part, dtype=torch.uint8)],
                                 [torch.full((2, h, w), 0.5)])


def test_greedy_box_matching_takes_highest_iou_first():
    a = torch.tensor([[0., 0., 10., 10.], [20., 20., 30., 30.]])
    # b0 overlaps a0 a little, b1 overlaps a0 a lot; b2 matches a1; b3 nothing
    b = torch.tensor([[5., 0., 15., 10.], [1., 0., 11., 10.], [20., 22., 30., 32.],
                      [50., 50., 60., 60.]])
    assert greedy_box_matching(a, b, iou_thr=0.3) == [(0, 1), (1, 2)]
    assert greedy_box_matching(a, b, iou_thr=0.9) == []
    assert greedy_box_matching(a[:0], b) == []


def test_merge_densepose_and_keypoint_teachers():
    """Two people; the DensePose teacher finds both, the keypoint teacher
    finds them in the other order (plus a low-score and an extra person):
    each person gets its own keypoints and its own chart."""
    dp = InstanceData(bboxes=torch.tensor([[0., 0., 10., 20.], [30., 0., 40., 20.]]),
                      scores=torch.tensor([0.9, 0.8]), labels=torch.zeros(2, dtype=torch.long),
                      densepose=DensePoseChartResults.cat([_chart(20, 10, 3), _chart(20, 10, 7)]))
    kp = InstanceData(
        bboxes=torch.tensor([[31., 1., 40., 21.], [0., 1., 10., 20.], [0., 0., 10., 20.],
                             [60., 0., 70., 20.]]),
        scores=torch.tensor([0.95, 0.9, 0.1, 0.9]), labels=torch.zeros(4, dtype=torch.long),
        keypoints=torch.stack([torch.full((17, 2), v) for v in (35., 5., 1., 65.)]),
        keypoint_scores=torch.ones(4, 17))
    merged = merge_teacher_predictions([dp, kp], score_thrs=[0.5, 0.5], iou_thr=0.5)
    assert merged.bboxes.tolist() == dp.bboxes.tolist()
    # person 0 (x in 0..10) gets the keypoints at x=5, person 1 those at x=35
    assert merged.keypoints[:, 0, 0].tolist() == [5.0, 35.0]
    assert [int(lb.max()) for lb in merged.densepose.labels] == [3, 7]
    gt = predictions_to_gt_instances(merged, score_thr=0.5, num_points=10)
    assert gt.keypoints_visible.sum(1).tolist() == [17.0, 17.0]
    assert gt.densepose.has_dp.tolist() == [True, True]
    assert [set(p[:, 2].tolist()) for p in gt.densepose.points] == [{3.0}, {7.0}]
    # keep_unmatched adds the keypoint-only person without DensePose
    merged = merge_teacher_predictions([dp, kp], score_thrs=[0.5, 0.5], keep_unmatched=True)
    gt = predictions_to_gt_instances(merged, score_thr=0.5, num_points=10)
    assert gt.bboxes[:, 0].tolist() == [0.0, 30.0, 60.0]
    assert gt.densepose.has_dp.tolist() == [True, True, False]
    assert gt.keypoints_visible.sum(1).tolist() == [17.0, 17.0, 17.0]
    # a person no keypoint teacher matched has no visible keypoint
    merged = merge_teacher_predictions([dp, kp[torch.tensor([0])]], score_thrs=[0.5, 0.5])
    gt = predictions_to_gt_instances(merged, score_thr=0.5, num_points=10)
    assert gt.keypoints_visible.sum(1).tolist() == [0.0, 17.0]
    with pytest.raises(ValueError, match='1 score thresholds for 2 teachers'):
        merge_teacher_predictions([dp, kp], score_thrs=[0.5])
