# Copyright (c) mmdensekd contributors. All rights reserved.
"""Turn a teacher's predictions into ground truth for the student (on the fly).

The offline tool ``tools/misc/generate_pseudo_labels.py`` writes the same kind
of labels to a DensePose-COCO json; this module does it in memory, in the
network-input frame, for ``TeacherStudentDistiller(supervision='teacher')``
(:class:`~mmdensekd.models.distillers.PseudoLabeler`).
Predictions of several teachers (e.g. a DensePose R-CNN and a Keypoint R-CNN)
are merged per person by greedy box matching
(:func:`merge_teacher_predictions`), as the pseudo ground truth of DensePose
From WiFi came from both.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor

from mmdensekd.datasets.iuv_conversion import chart_box_xywh, resample_iuv, sample_dp_points
from mmdensekd.structures import (
    DP_BOX_SIZE,
    FINE_TO_COARSE,
    DensePoseChartResults,
    DensePoseTargets,
)

_FINE_TO_COARSE = np.asarray(FINE_TO_COARSE, dtype=np.uint8)
#: Defaults of the pseudo-label conversion and merge (one home for them).
SCORE_THR = 0.5
NUM_POINTS = 100
MATCH_IOU_THR = 0.5
_POINT_KEYS = ('dp_x', 'dp_y', 'dp_I', 'dp_U', 'dp_V')


def chart_results_to_targets(charts: DensePoseChartResults,
                             boxes: Tensor,
                             num_points: int = NUM_POINTS,
                             seed: int = 0) -> DensePoseTargets:
    """Convert predicted box-sized charts into DensePose training targets.

    Uses the same conversion as the offline pseudo-label tool
    (:func:`mmdensekd.datasets.iuv_conversion.resample_iuv` and
    :func:`~mmdensekd.datasets.iuv_conversion.sample_dp_points`): each chart is
    resampled (nearest) to the 256x256 box frame, points are drawn per part
    in proportion to its area, and the merged coarse segmentation is the
    coarse part of every fine label. Each chart is read at its anchor
    ``(int(x0), int(y0))`` and resampled into the frame of its float box.

    Args:
        charts (DensePoseChartResults): ``labels`` (h, w) in 0..24 and ``uv``
            (2, h, w) in [0, 1] per instance.
        boxes (Tensor): (N, 4) xyxy boxes of the charts.
        num_points (int): Approximate points per instance. Defaults to
            :data:`NUM_POINTS`.
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
                                score_thr: float = SCORE_THR,
                                kpt_score_thr: float = 0.0,
                                num_points: int = NUM_POINTS,
                                num_keypoints: int = 17) -> InstanceData:
    """Keep the confident predictions of one image as ground-truth instances.

    Shape legend: ``N`` kept instances, ``K`` keypoints.

    Args:
        pred (InstanceData): Teacher predictions in the network-input frame
            (``rescale=False``): bboxes (M, 4), scores (M,), labels (M,) and
            optionally keypoints (M, K, 2), keypoint_scores (M, K),
            densepose (DensePoseChartResults).
        score_thr (float): Minimum box score. Defaults to :data:`SCORE_THR`.
        kpt_score_thr (float): A keypoint is visible when its score is above
            this. Defaults to 0.0.
        num_points (int): DensePose points per instance. Defaults to
            :data:`NUM_POINTS`.
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


def greedy_box_matching(boxes_a: Tensor, boxes_b: Tensor,
                        iou_thr: float = MATCH_IOU_THR) -> List[tuple]:
    """Match two box sets one-to-one, highest IoU first.

    Shape legend: ``A``, ``B`` boxes in each set.

    Args:
        boxes_a (Tensor): (A, 4) xyxy boxes.
        boxes_b (Tensor): (B, 4) xyxy boxes (same frame).
        iou_thr (float): Minimum IoU of a match. Defaults to
            :data:`MATCH_IOU_THR`.

    Returns:
        list[tuple[int, int]]: ``(index in a, index in b)`` pairs, in order
        of decreasing IoU.
    """
    if len(boxes_a) == 0 or len(boxes_b) == 0:
        return []
    iou = bbox_overlaps(boxes_a.float(), boxes_b.to(boxes_a.device).float()).cpu()
    pairs = []
    order = iou.flatten().argsort(descending=True)
    used_a, used_b = set(), set()
    for flat in order.tolist():
        i, j = divmod(flat, iou.size(1))
        if iou[i, j] < iou_thr:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j))
    return pairs


def _empty_charts(n: int, device) -> DensePoseChartResults:
    """``n`` all-background 1x1 charts (instances without DensePose)."""
    return DensePoseChartResults([torch.zeros((1, 1), dtype=torch.uint8, device=device)] * n,
                                 [torch.zeros((2, 1, 1), device=device)] * n)


def merge_teacher_predictions(preds: Sequence[InstanceData],
                              score_thrs: Optional[Sequence[float]] = None,
                              iou_thr: float = MATCH_IOU_THR,
                              keep_unmatched: bool = False) -> InstanceData:
    """Merge several teachers' predictions of one image into one per person.

    The first teacher's confident detections are the persons; each other
    teacher's confident detections are matched to them by greedy IoU
    (:func:`greedy_box_matching`) and fill the fields the persons lack so far
    (``keypoints`` + ``keypoint_scores``, ``densepose``). A field that a
    teacher provides for no-one stays absent; a person without a match gets
    keypoint scores ``-inf`` (invisible) or an all-background chart (no
    DensePose). With ``keep_unmatched`` an unmatched detection of a later
    teacher becomes a person too. Box, score and label come from the teacher
    that first detected the person.

    Shape legend: ``N`` merged persons, ``K`` keypoints.

    Args:
        preds (Sequence[InstanceData]): One prediction per teacher, all in
            the same image frame: ``bboxes``, ``scores``, ``labels`` and
            optionally ``keypoints`` (M, K, 2), ``keypoint_scores`` (M, K),
            ``densepose`` (DensePoseChartResults).
        score_thrs (Sequence[float], optional): Minimum box score per teacher.
            Defaults to 0 for each.
        iou_thr (float): Minimum IoU of a match. Defaults to
            :data:`MATCH_IOU_THR`.
        keep_unmatched (bool): Keep detections of later teachers that match
            no person. Defaults to False.

    Returns:
        InstanceData: The merged persons.
    """
    if len(preds) == 0:
        raise ValueError('merge_teacher_predictions needs at least one prediction')
    score_thrs = list(score_thrs) if score_thrs is not None else [0.0] * len(preds)
    if len(score_thrs) != len(preds):
        raise ValueError(f'{len(score_thrs)} score thresholds for {len(preds)} teachers')
    kept = []
    for pred, thr in zip(preds, score_thrs):
        keep = (pred.scores >= thr).nonzero().squeeze(1)
        kept.append(pred[keep])
    base = kept[0]
    device = base.bboxes.device
    persons = [dict(bboxes=get_box_tensor(base.bboxes)[i], scores=base.scores[i],
                    labels=base.labels[i], src=(0, i)) for i in range(len(base))]
    has_kpt = 'keypoints' in base
    has_dp = 'densepose' in base
    for p in persons:
        if has_kpt:
            p['kpt'] = (0, p['src'][1])
        if has_dp:
            p['dp'] = (0, p['src'][1])
    for t, pred in enumerate(kept[1:], start=1):
        boxes = torch.stack([p['bboxes'] for p in persons]) if persons else \
            torch.zeros((0, 4), device=device)
        pairs = greedy_box_matching(boxes, get_box_tensor(pred.bboxes), iou_thr)
        t_kpt, t_dp = 'keypoints' in pred, 'densepose' in pred
        for i, j in pairs:
            if t_kpt and 'kpt' not in persons[i]:
                persons[i]['kpt'] = (t, j)
            if t_dp and 'dp' not in persons[i]:
                persons[i]['dp'] = (t, j)
        if keep_unmatched:
            matched = {j for _, j in pairs}
            for j in range(len(pred)):
                if j not in matched:
                    p = dict(bboxes=get_box_tensor(pred.bboxes)[j], scores=pred.scores[j],
                             labels=pred.labels[j], src=(t, j))
                    if t_kpt:
                        p['kpt'] = (t, j)
                    if t_dp:
                        p['dp'] = (t, j)
                    persons.append(p)
        has_kpt, has_dp = has_kpt or t_kpt, has_dp or t_dp
    out = InstanceData()
    n = len(persons)
    out.bboxes = (torch.stack([p['bboxes'] for p in persons]).float() if n else
                  torch.zeros((0, 4), device=device))
    out.scores = (torch.stack([p['scores'] for p in persons]) if n else
                  torch.zeros((0, ), device=device))
    out.labels = (torch.stack([p['labels'] for p in persons]).long() if n else
                  torch.zeros((0, ), dtype=torch.long, device=device))
    if has_kpt:
        num_keypoints = next(p.keypoints.size(1) for p in kept if 'keypoints' in p)
        kpts, scores = [], []
        for p in persons:
            if 'kpt' in p:
                t, j = p['kpt']
                kpts.append(kept[t].keypoints[j].float())
                scores.append(kept[t].keypoint_scores[j].float())
            else:
                kpts.append(torch.zeros((num_keypoints, 2), device=device))
                scores.append(torch.full((num_keypoints, ), float('-inf'), device=device))
        k = num_keypoints
        out.keypoints = torch.stack(kpts) if n else torch.zeros((0, k, 2), device=device)
        out.keypoint_scores = torch.stack(scores) if n else torch.zeros((0, k), device=device)
    if has_dp:
        charts = [kept[p['dp'][0]].densepose[[p['dp'][1]]] if 'dp' in p else
                  _empty_charts(1, device) for p in persons]
        out.densepose = DensePoseChartResults.cat(charts) if n else _empty_charts(0, device)
    return out
