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

from .densepose_chart_decoding import decode_charts_to_boxes
from .densepose_chart_predictor import DensePoseChartPredictor

#: ``decoding`` modes of :class:`DensePoseChartHead`
DECODINGS = ('detectron2', 'fast')


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


def decode_confidences(dp_output: DensePoseChartPredictorOutput, labels: Tensor) -> dict:
    """Confidences of every RoI at the predictor resolution, per-part ones
    read at ``labels`` (0 on background), one-channel ones as they are.

    Returns:
        dict[str, Tensor]: name -> (M, H, W).
    """
    out = {}
    parts = dp_output.fine_segm.size(1)
    for name, maps in dp_output.confidences().items():
        if name == 'sigma_1':
            continue
        if maps.size(1) == parts:
            out[name] = maps.gather(1, labels[:, None])[:, 0] * (labels > 0)
        else:
            out[name] = maps[:, 0]
    return out


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

    Decoding (:meth:`predict_by_feat`): ``decoding='detectron2'`` (default)
    resizes the coarse / fine scores bilinearly to each box, takes the
    argmax there and reads U, V (unclamped, 0 on background) at the label
    (:func:`decode_charts_to_boxes`, detectron2's results); ``'fast'``
    takes the argmax at the predictor resolution, resizes the labels by
    nearest pixel centre and the label's U, V (clamped to [0, 1]) bilinearly
    (:func:`decode_charts` + :func:`chart_to_box`).

    Args:
        in_channels, num_coarse_segm_channels, num_fine_parts, up_scale,
        uv_confidence, uv_confidence_epsilon, segm_confidence,
        segm_confidence_epsilon, init_cfg: as :class:`DensePoseChartPredictor`.
        loss_densepose (dict): The chart loss config.
        decoding (str): ``'detectron2'`` or ``'fast'``. Defaults to
            ``'detectron2'``.
    """

    def __init__(self,
                 in_channels: int = 512,
                 num_coarse_segm_channels: int = 2,
                 num_fine_parts: int = NUM_FINE_PARTS,
                 up_scale: int = 2,
                 uv_confidence: Optional[str] = None,
                 uv_confidence_epsilon: float = 0.01,
                 segm_confidence: bool = False,
                 segm_confidence_epsilon: float = 0.01,
                 loss_densepose: ConfigType = dict(type='DensePoseChartLoss'),
                 decoding: str = 'detectron2',
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='ConvTranspose2d', mode='fan_out',
                     nonlinearity='relu', distribution='normal', bias=0)) -> None:
        super().__init__(in_channels=in_channels,
                         num_coarse_segm_channels=num_coarse_segm_channels,
                         num_fine_parts=num_fine_parts, up_scale=up_scale,
                         uv_confidence=uv_confidence,
                         uv_confidence_epsilon=uv_confidence_epsilon,
                         segm_confidence=segm_confidence,
                         segm_confidence_epsilon=segm_confidence_epsilon, init_cfg=init_cfg)
        if not isinstance(loss_densepose, dict) or 'type' not in loss_densepose:
            raise TypeError('`loss_densepose` must be a config dict with a "type" key, got '
                            f'{loss_densepose!r}')
        if (loss_densepose.get('type') in ('DensePoseChartLoss', 'mmdensekd.DensePoseChartLoss')
                and loss_densepose.get('uv_confidence') != uv_confidence):
            raise ValueError(f'uv_confidence={uv_confidence!r} but loss_densepose.uv_confidence='
                             f"{loss_densepose.get('uv_confidence')!r}: set both (the loss "
                             'trains the confidence outputs)')
        if decoding not in DECODINGS:
            raise ValueError(f'decoding must be one of {DECODINGS}, got {decoding!r}')
        self.decoding = decoding
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

        The charts are decoded at each box of ``results_list`` (in whatever
        frame those boxes are) by ``self.decoding`` (see the class doc), all
        boxes of the batch at once. Confidences the predictor estimates are
        carried along (``sigma_2`` as the variance :meth:`uv_variance`).

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
        if num and dp_output.sigma_2 is not None:
            dp_output = DensePoseChartPredictorOutput(
                **{**vars(dp_output), 'sigma_2': self.uv_variance(dp_output.sigma_2)})
        boxes = [get_box_tensor(res.bboxes) for res in results_list]
        if not num:
            labels, uvs, confs = [], [], {}
        elif self.decoding == 'detectron2':
            labels, uvs, confs = decode_charts_to_boxes(dp_output, torch.cat(boxes))
        else:
            labels, uvs, confs = self.fast_decode(dp_output, torch.cat(boxes))
        start = 0
        for res in results_list:
            end = start + len(res)
            res.densepose = DensePoseChartResults(
                labels[start:end], uvs[start:end],
                {k: maps[start:end] for k, maps in confs.items()})
            start = end
        return results_list

    @staticmethod
    def fast_decode(dp_output: DensePoseChartPredictorOutput, boxes: Tensor) -> tuple:
        """``decoding='fast'``: decode at the predictor resolution, then resize
        labels (nearest) and U/V and confidences (bilinear) to each box."""
        labels_lr, uv_lr = decode_charts(dp_output)
        conf_lr = decode_confidences(dp_output, labels_lr)
        labels: List[Tensor] = []
        uvs: List[Tensor] = []
        confs = {k: [] for k in conf_lr}
        for i in range(len(boxes)):
            lb, uv = chart_to_box(labels_lr[i], uv_lr[i], boxes[i])
            labels.append(lb)
            uvs.append(uv)
            for k, maps in conf_lr.items():
                confs[k].append(F.interpolate(maps[i][None, None], lb.shape, mode='bilinear',
                                              align_corners=False)[0, 0])
        return labels, uvs, confs
