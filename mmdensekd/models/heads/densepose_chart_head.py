# Copyright (c) mmdensekd contributors. All rights reserved.
"""The DensePose chart head: predictor, training targets, loss, decoding.

mmdet's ``FCNMaskHead`` pattern for DensePose charts: :meth:`forward`
(tensors only), :meth:`get_targets` / :meth:`loss_and_target` and
:meth:`predict_by_feat`. The RoI head only routes RoIs to it.

Shape legend: ``P`` positive RoIs of a batch, ``M`` RoIs a branch ran on,
``C`` coarse channels, ``H x W`` the predictor resolution.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmdet.utils import ConfigType, InstanceList, OptConfigType
from torch import Tensor

from mmdensekd.registry import MODELS
from mmdensekd.structures import (
    NUM_FINE_PARTS,
    DensePoseChartPredictorOutput,
    DensePoseChartResults,
    DensePoseTargets,
)

from .densepose_chart_predictor import DensePoseChartPredictor


def decode_charts(dp_output: DensePoseChartPredictorOutput) -> Tuple[Tensor, Tensor]:
    """Labels and U, V of every RoI at the predictor resolution.

    labels = (coarse argmax > 0) x argmax of the fine parts; U and V are read
    from the channel of that label.

    Args:
        dp_output (DensePoseChartPredictorOutput): Outputs of ``M`` RoIs.

    Returns:
        tuple[Tensor, Tensor]: (M, H, W) long labels in 0..24 and
        (M, 2, H, W) U, V clamped to [0, 1].
    """
    labels = dp_output.fine_segm.argmax(dim=1) * (dp_output.coarse_segm.argmax(dim=1) > 0)
    index = labels[:, None]
    uv = torch.cat([dp_output.u.gather(1, index), dp_output.v.gather(1, index)], dim=1)
    return labels, uv.clamp(0, 1)


def chart_to_box(labels: Tensor, uv: Tensor, box: Tensor) -> Tuple[Tensor, Tensor]:
    """Resize one RoI's decoded chart to its box.

    Args:
        labels (Tensor): (H, W) labels at the predictor resolution.
        uv (Tensor): (2, H, W) U, V at the predictor resolution.
        box (Tensor): (4,) xyxy box in the frame of the result.

    Returns:
        tuple[Tensor, Tensor]: (h, w) uint8 labels (nearest pixel centre) and
        (2, h, w) U, V (bilinear), ``h = max(int(y1 - y0), 1)``,
        ``w = max(int(x1 - x0), 1)``.
    """
    w = max(int(box[2] - box[0]), 1)
    h = max(int(box[3] - box[1]), 1)
    lb = F.interpolate(labels[None, None].float(), (h, w), mode='nearest-exact')[0, 0]
    uv = F.interpolate(uv[None], (h, w), mode='bilinear', align_corners=False)[0]
    return lb.to(torch.uint8), uv


@MODELS.register_module()
class DensePoseChartHead(DensePoseChartPredictor):
    """DensePose chart predictor that owns its targets, loss and decoding.

    The layers are those of :class:`DensePoseChartPredictor` (same state
    dict). Training RoIs are positive proposals whose IoU with their
    matched, DensePose-annotated GT box is at least
    ``rcnn_train_cfg.densepose_iou_thr`` (0.7); the loss maps the GT points
    into each proposal's frame (``loss_densepose``, e.g.
    :class:`~mmdensekd.models.losses.DensePoseChartLoss`, whose
    ``loss_weight`` is the one weight of the DensePose branch).

    Args:
        in_channels, num_coarse_segm_channels, num_fine_parts, up_scale,
        init_cfg: as :class:`DensePoseChartPredictor`.
        loss_densepose (dict): The chart loss config.
    """

    def __init__(self,
                 in_channels: int = 512,
                 num_coarse_segm_channels: int = 2,
                 num_fine_parts: int = NUM_FINE_PARTS,
                 up_scale: int = 2,
                 loss_densepose: ConfigType = dict(type='DensePoseChartLoss'),
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='ConvTranspose2d', mode='fan_out',
                     nonlinearity='relu', distribution='normal', bias=0)) -> None:
        super().__init__(in_channels=in_channels,
                         num_coarse_segm_channels=num_coarse_segm_channels,
                         num_fine_parts=num_fine_parts, up_scale=up_scale, init_cfg=init_cfg)
        if not isinstance(loss_densepose, dict) or 'type' not in loss_densepose:
            raise TypeError('`loss_densepose` must be a config dict with a "type" key, got '
                            f'{loss_densepose!r}')
        self.loss_densepose = MODELS.build(loss_densepose)

    # --------------------------------------------------------------- targets
    def get_targets(self, sampling_results: list, batch_gt_instances: InstanceList,
                    rcnn_train_cfg: OptConfigType = None) -> dict:
        """Match every positive RoI of the batch to its GT and say which are
        eligible for the DensePose loss.

        Args:
            sampling_results (list[SamplingResult]): Per image.
            batch_gt_instances (list[InstanceData]): Per image; ``densepose``
                (:obj:`DensePoseTargets`) may be missing (not annotated).
            rcnn_train_cfg (dict, optional): ``densepose_iou_thr`` (0.7).

        Returns:
            dict: ``proposals`` (P, 4), ``gt_bboxes`` (P, 4), ``densepose``
            (:obj:`DensePoseTargets` of P instances) and ``eligible`` (P,)
            bool: IoU >= the threshold and the GT has DensePose points.
        """
        proposals, gt_bboxes, dp_targets = [], [], []
        for res, gt in zip(sampling_results, batch_gt_instances):
            inds = res.pos_assigned_gt_inds.long()
            proposals.append(get_box_tensor(res.pos_priors))
            gt_bboxes.append(get_box_tensor(gt.bboxes)[inds])
            dp = (gt.densepose if 'densepose' in gt else DensePoseTargets.empty(len(gt)).to(
                gt.labels.device))
            dp_targets.append(dp[inds.cpu()])
        proposals = torch.cat(proposals)
        gt_bboxes = torch.cat(gt_bboxes) if gt_bboxes else proposals.new_zeros((0, 4))
        dp_targets = DensePoseTargets.cat(dp_targets)
        thr = rcnn_train_cfg.get('densepose_iou_thr', 0.7) if rcnn_train_cfg else 0.7
        iou = bbox_overlaps(proposals, gt_bboxes, is_aligned=True)
        eligible = (iou >= thr) & dp_targets.has_dp.to(proposals.device)
        return dict(proposals=proposals, gt_bboxes=gt_bboxes, densepose=dp_targets,
                    eligible=eligible)

    def loss_and_target(self, dp_output: DensePoseChartPredictorOutput, targets: dict,
                        forwarded: Tensor) -> dict:
        """Chart loss of the eligible RoIs among those the branch ran on.

        Args:
            dp_output (DensePoseChartPredictorOutput): Outputs on the positive
                RoIs selected by ``forwarded``, or on one fallback RoI when
                ``forwarded`` is all False.
            targets (dict): Output of :meth:`get_targets`.
            forwarded (Tensor): (P,) bool over the positives.

        Returns:
            dict: ``loss_densepose`` (dict of ``loss_densepose_{I,U,V,S}``;
            zero but in the graph when no RoI is eligible, so DDP never waits
            for missing gradients) and ``num_eligible`` (int).
        """
        sel = targets['eligible'][forwarded]
        idx = torch.nonzero(forwarded, as_tuple=False)[:, 0][sel]
        if not bool(sel.any()):
            n = len(dp_output)
            losses = self.loss_densepose(dp_output, dp_output.u.new_zeros((n, 4)),
                                         dp_output.u.new_ones((n, 4)),
                                         DensePoseTargets.empty(n))
            return dict(loss_densepose=losses, num_eligible=0)
        losses = self.loss_densepose(dp_output[sel], targets['proposals'][idx],
                                     targets['gt_bboxes'][idx],
                                     targets['densepose'][idx.cpu()])
        return dict(loss_densepose=losses, num_eligible=len(idx))

    # --------------------------------------------------------------- predict
    def predict_by_feat(self, dp_output: Optional[DensePoseChartPredictorOutput],
                        results_list: InstanceList) -> InstanceList:
        """Add ``densepose`` (:obj:`DensePoseChartResults`) to each result.

        Labels and U/V are decoded once for the whole batch at the predictor
        resolution (:func:`decode_charts`), then resized to each box of
        ``results_list`` (in whatever frame those boxes are): labels by
        nearest pixel centre, U/V bilinearly.

        Args:
            dp_output (DensePoseChartPredictorOutput, optional): Outputs on
                all boxes of the batch, in order; None when there is none.
            results_list (list[InstanceData]): Detections per image.

        Returns:
            list[InstanceData]: ``results_list``, updated in place.
        """
        num = sum(len(res) for res in results_list)
        if num != (0 if dp_output is None else len(dp_output)):
            raise ValueError(f'{num} detections but DensePose outputs for '
                             f'{0 if dp_output is None else len(dp_output)} boxes')
        if num:
            labels_lr, uv_lr = decode_charts(dp_output)
        start = 0
        for res in results_list:
            boxes = get_box_tensor(res.bboxes)
            labels: List[Tensor] = []
            uvs: List[Tensor] = []
            for i in range(len(res)):
                lb, uv = chart_to_box(labels_lr[start + i], uv_lr[start + i], boxes[i])
                labels.append(lb)
                uvs.append(uv)
            res.densepose = DensePoseChartResults(labels, uvs)
            start += len(res)
        return results_list
