# Copyright (c) mmdensekd contributors. All rights reserved.
"""Turn a teacher's predictions into ground truth for the student (on the fly).

The offline tool ``tools/misc/generate_pseudo_labels.py`` writes the same kind
of labels to a DensePose-COCO json; this module does it in memory, in the
network-input frame, for ``TeacherStudentDistiller(supervision='teacher')``.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from torch import Tensor

from mmdensekd.structures import (
    DP_BOX_SIZE,
    FINE_TO_COARSE,
    DensePoseChartResults,
    DensePoseTargets,
)


def chart_results_to_targets(charts: DensePoseChartResults,
                             num_points: int = 100,
                             size: int = DP_BOX_SIZE) -> DensePoseTargets:
    """Convert predicted box-sized charts into DensePose training targets.

    Each chart is resampled (nearest) to the ``size x size`` box frame; the
    merged coarse segmentation is the coarse part of every fine label, and up
    to ``num_points`` foreground pixels, evenly spaced in raster order, become
    the ``x, y, I, U, V`` points (x, y at pixel centres).

    Shape legend: ``N`` instances, ``h x w`` chart size, ``S`` = ``size``.

    Args:
        charts (DensePoseChartResults): ``labels`` (h, w) in 0..24 and ``uv``
            (2, h, w) in [0, 1] per instance.
        num_points (int): Maximum points per instance. Defaults to 100.
        size (int): Box-frame size. Defaults to 256.

    Returns:
        DensePoseTargets: ``N`` instances; ``has_dp`` False where the chart
        has no foreground pixel.
    """
    if num_points <= 0:
        raise ValueError(f'num_points must be > 0, got {num_points}')
    lut = torch.tensor(FINE_TO_COARSE, dtype=torch.uint8)
    points: List[Tensor] = []
    segms: List[Tensor] = []
    has_dp: List[bool] = []
    for labels, uv in zip(charts.labels, charts.uv):
        labels = torch.as_tensor(labels)
        uv = torch.as_tensor(uv)
        lab = F.interpolate(labels[None, None].float(), size=(size, size),
                            mode='nearest')[0, 0].long().cpu()
        uv_s = F.interpolate(uv[None].float(), size=(size, size), mode='nearest')[0].cpu()
        segms.append(lut[lab])
        fg = lab.flatten().nonzero().squeeze(1)
        if fg.numel() == 0:
            points.append(torch.zeros((0, 5)))
            has_dp.append(False)
            continue
        pick = torch.linspace(0, fg.numel() - 1, min(num_points, fg.numel())).round().long()
        flat = fg[pick]
        ys, xs = flat // size, flat % size
        points.append(
            torch.stack([
                xs.float() + 0.5, ys.float() + 0.5, lab[ys, xs].float(), uv_s[0, ys, xs],
                uv_s[1, ys, xs]
            ], dim=1))
        has_dp.append(True)
    segm_t = torch.stack(segms) if segms else torch.zeros((0, size, size), dtype=torch.uint8)
    return DensePoseTargets(points, segm_t, torch.tensor(has_dp, dtype=torch.bool))


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
        gt.densepose = chart_results_to_targets(pred.densepose[keep.cpu()],
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
