# Copyright (c) mmdensekd contributors. All rights reserved.
"""Turn a teacher's predictions into ground truth for the student (on the fly).

The offline tool ``tools/misc/generate_pseudo_labels.py`` writes the same kind
of labels to a DensePose-COCO json; this module does it in memory, in the
network-input frame, for ``TeacherStudentDistiller(supervision='teacher')``.
"""
from typing import List, Sequence

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from torch import Tensor

from mmdensekd.structures import (
    DP_BOX_SIZE,
    FINE_TO_COARSE,
    DensePoseChartResults,
    DensePoseTargets,
)
from mmdensekd.utils.iuv_conversion import chart_box_xywh, resample_iuv, sample_dp_points

_FINE_TO_COARSE = np.asarray(FINE_TO_COARSE, dtype=np.uint8)
_POINT_KEYS = ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')


def chart_results_to_targets(charts: DensePoseChartResults,
                             boxes: Tensor,
                             num_points: int = 100,
                             seed: int = 0) -> DensePoseTargets:
    """Convert predicted box-sized charts into DensePose training targets.

    Uses the same conversion as the offline pseudo-label tool
    (:func:`mmdensekd.utils.iuv_conversion.resample_iuv` and
    :func:`~mmdensekd.utils.iuv_conversion.sample_dp_points`): each chart is
    resampled (nearest) to the 256x256 box frame, points are drawn per part
    in proportion to its area, and the merged coarse segmentation is the
    coarse part of every fine label. Each chart is read at its anchor
    ``(int(x0), int(y0))`` and resampled into the frame of its float box.

    Args:
        charts (DensePoseChartResults): ``labels`` (h, w) in 0..24 and ``uv``
            (2, h, w) in [0, 1] per instance.
        boxes (Tensor): (N, 4) xyxy boxes of the charts.
        num_points (int): Approximate points per instance. Defaults to 100.
        seed (int): Seed of the point sampling (instance ``i`` uses
            ``seed + i``). Defaults to 0.

    Returns:
        DensePoseTargets: one entry per chart; ``has_dp`` False where the
        chart has no foreground pixel.
    """
    if num_points <= 0:
        raise ValueError(f'num_points must be > 0, got {num_points}')
    points: List[Tensor] = []
    segms: List[np.ndarray] = []
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        iuv = charts.iuv(i)
        box_iuv = resample_iuv(iuv, chart_box_xywh((x0, y0), iuv), (x0, y0, x1 - x0, y1 - y0))
        segms.append(_FINE_TO_COARSE[box_iuv[0]])
        fields = sample_dp_points(box_iuv, num_points, rng=np.random.default_rng(seed + i))
        points.append(torch.tensor([fields[k] for k in _POINT_KEYS],
                                   dtype=torch.float32).reshape(5, -1).t())
    segm_t = (torch.from_numpy(np.stack(segms)) if segms else torch.zeros(
        (0, DP_BOX_SIZE, DP_BOX_SIZE), dtype=torch.uint8))
    has_dp = torch.tensor([len(p) > 0 for p in points], dtype=torch.bool)
    return DensePoseTargets(points, segm_t, has_dp)


def predictions_to_gt_instances(pred: InstanceData,
                                score_thr: float = 0.5,
                                kpt_score_thr: float = 0.0,
                                num_points: int = 100,
                                num_keypoints: int = 17) -> InstanceData:
    """Keep the confident predictions of one image as ground-truth instances.

    Shape legend: ``N`` kept instances, ``K`` keypoints.

    Args:
        pred (InstanceData): Teacher predictions in the network-input frame
            (``rescale=False``): bboxes (M, 4), scores (M,), labels (M,) and
            optionally keypoints (M, K, 2), keypoint_scores (M, K),
            densepose (DensePoseChartResults).
        score_thr (float): Minimum box score. Defaults to 0.5.
        kpt_score_thr (float): A keypoint is visible when its score is above
            this. Defaults to 0.0.
        num_points (int): DensePose points per instance. Defaults to 100.
        num_keypoints (int): ``K`` when the teacher has no keypoint branch.
            Defaults to 17.

    Returns:
        InstanceData: bboxes (N, 4), labels (N,), keypoints (N, K, 2),
        keypoints_visible (N, K) and densepose (DensePoseTargets, when the
        teacher predicts DensePose).
    """
    keep = (pred.scores >= score_thr).nonzero().squeeze(1)
    gt = InstanceData()
    gt.bboxes = pred.bboxes[keep].detach().float()
    gt.labels = pred.labels[keep].long()
    n = keep.numel()
    device = gt.bboxes.device
    if 'keypoints' in pred:
        gt.keypoints = pred.keypoints[keep].detach().float()
        gt.keypoints_visible = (pred.keypoint_scores[keep] > kpt_score_thr).float()
    else:
        gt.keypoints = torch.zeros((n, num_keypoints, 2), device=device)
        gt.keypoints_visible = torch.zeros((n, num_keypoints), device=device)
    if 'densepose' in pred:
        gt.densepose = chart_results_to_targets(pred.densepose[keep.cpu()], gt.bboxes.cpu(),
                                                num_points).to(device)
    return gt


def make_pseudo_label_samples(results: Sequence[InstanceData],
                              data_samples: Sequence[DetDataSample],
                              **kwargs) -> List[DetDataSample]:
    """New data samples carrying the teacher's predictions as ``gt_instances``.

    Args:
        results (Sequence[InstanceData]): Teacher predictions per image.
        data_samples (Sequence[DetDataSample]): The batch's samples (their
            metainfo is kept; their ground truth is not used).
        **kwargs: Passed to :func:`predictions_to_gt_instances`.

    Returns:
        list[DetDataSample]: One new sample per image.
    """
    out = []
    for res, ds in zip(results, data_samples):
        new = DetDataSample(metainfo=ds.metainfo)
        new.gt_instances = predictions_to_gt_instances(res, **kwargs)
        new.ignored_instances = InstanceData(
            bboxes=new.gt_instances.bboxes.new_zeros((0, 4)),
            labels=new.gt_instances.labels.new_zeros((0,)))
        out.append(new)
    return out
