# Copyright (c) mmdensekd contributors. All rights reserved.
"""RoI head with box, DensePose, keypoint and refinement branches."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, bbox_overlaps, get_box_tensor, scale_boxes
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from torch import Tensor

from mmdensekd.registry import MODELS
from mmdensekd.structures import (
    DensePoseChartPredictorOutput,
    DensePoseChartResults,
    DensePoseTargets,
)


@MODELS.register_module()
class DensePoseRoIHead(StandardRoIHead):
    """mmdet's ``StandardRoIHead`` with DensePose, keypoint and refinement
    branches (DESIGN section 5).

    * DensePose: trained on positive proposals whose IoU with their matched,
      DensePose-annotated GT box is at least ``train_cfg.densepose_iou_thr``
      (0.7); predicts charts on the final detections.
    * Keypoints: trained on positive proposals that contain at least one
      visible keypoint of their GT.
    * Refinement: the two branches' features are fused by ``refine_head`` and
      each branch's predictor runs on its refined features; both branches
      then see the union of their training RoIs and each loss keeps its own.

    Shape legend: ``M`` RoIs, ``K`` keypoints.

    Args:
        bbox_roi_extractor, bbox_head, shared_head: as ``StandardRoIHead``.
        densepose_roi_extractor (dict, optional): RoI extractor of the
            DensePose branch (28x28 in the s1x recipe).
        densepose_head (dict, optional): DensePose feature head.
        densepose_predictor (dict, optional): Chart predictor.
        densepose_loss (dict, optional): Chart loss.
        keypoint_roi_extractor (dict, optional): RoI extractor of the
            keypoint branch (14x14).
        keypoint_head (dict, optional): Keypoint head, e.g.
            ``dict(type='mmpose.KeypointRCNNHead', ...)``.
        refine_head (dict, optional): DensePose-keypoint refinement unit;
            needs both branches.
        train_cfg, test_cfg, init_cfg: as ``StandardRoIHead``. ``train_cfg``
            may set ``densepose_iou_thr`` (default 0.7).
    """

    def __init__(self,
                 bbox_roi_extractor: OptMultiConfig = None,
                 bbox_head: OptMultiConfig = None,
                 densepose_roi_extractor: OptMultiConfig = None,
                 densepose_head: OptConfigType = None,
                 densepose_predictor: OptConfigType = None,
                 densepose_loss: OptConfigType = None,
                 keypoint_roi_extractor: OptMultiConfig = None,
                 keypoint_head: OptConfigType = None,
                 refine_head: OptConfigType = None,
                 shared_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(bbox_roi_extractor=bbox_roi_extractor, bbox_head=bbox_head,
                         shared_head=shared_head, train_cfg=train_cfg, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        if densepose_head is not None:
            self.init_densepose_head(densepose_roi_extractor, densepose_head,
                                     densepose_predictor, densepose_loss)
        if keypoint_head is not None:
            self.init_keypoint_head(keypoint_roi_extractor, keypoint_head)
        if refine_head is not None:
            if not (self.with_densepose and self.with_keypoint):
                raise ValueError('refine_head needs both densepose_head and keypoint_head')
            self.refine_head = MODELS.build(refine_head)

    # ------------------------------------------------------------------ init
    def init_densepose_head(self, densepose_roi_extractor: ConfigType,
                            densepose_head: ConfigType, densepose_predictor: ConfigType,
                            densepose_loss: ConfigType) -> None:
        """Build the DensePose RoI extractor, head, predictor and loss."""
        for key, cfg in (('densepose_roi_extractor', densepose_roi_extractor),
                         ('densepose_predictor', densepose_predictor),
                         ('densepose_loss', densepose_loss)):
            if cfg is None:
                raise ValueError(f'densepose_head is set but {key} is missing')
        self.densepose_roi_extractor = MODELS.build(densepose_roi_extractor)
        self.densepose_head = MODELS.build(densepose_head)
        self.densepose_predictor = MODELS.build(densepose_predictor)
        self.densepose_loss_fn = MODELS.build(densepose_loss)

    def init_keypoint_head(self, keypoint_roi_extractor: ConfigType,
                           keypoint_head: ConfigType) -> None:
        """Build the keypoint RoI extractor and head."""
        if keypoint_roi_extractor is None:
            raise ValueError('keypoint_head is set but keypoint_roi_extractor is missing')
        self.keypoint_roi_extractor = MODELS.build(keypoint_roi_extractor)
        self.keypoint_head = MODELS.build(keypoint_head)

    @property
    def with_densepose(self) -> bool:
        return getattr(self, 'densepose_head', None) is not None

    @property
    def with_keypoint(self) -> bool:
        return getattr(self, 'keypoint_head', None) is not None

    @property
    def with_refine(self) -> bool:
        return getattr(self, 'refine_head', None) is not None

    # --------------------------------------------------------------- forward
    def _densepose_features(self, x: Tuple[Tensor], rois: Tensor) -> Tensor:
        extractor = self.densepose_roi_extractor
        return self.densepose_head(extractor(x[:extractor.num_inputs], rois))

    def _keypoint_features(self, x: Tuple[Tensor], rois: Tensor) -> Tensor:
        extractor = self.keypoint_roi_extractor
        return self.keypoint_head.forward_features(extractor(x[:extractor.num_inputs], rois))

    def _branch_forward(self, x: Tuple[Tensor], rois: Tensor, densepose: bool = True,
                        keypoint: bool = True) -> Dict[str, object]:
        """Run the requested branches on ``rois`` (both when refining).

        Returns:
            dict: ``dp_feats`` (M, C, S, S) and ``dp_output``
            (:obj:`DensePoseChartPredictorOutput`) for DensePose;
            ``kpt_feats`` and ``kpt_heatmaps`` (M, K, 56, 56) for keypoints.
        """
        densepose = densepose and self.with_densepose
        keypoint = keypoint and self.with_keypoint
        dp_feats = self._densepose_features(x, rois) if densepose or self.with_refine else None
        kpt_feats = self._keypoint_features(x, rois) if keypoint or self.with_refine else None
        if self.with_refine:
            dp_feats, kpt_feats = self.refine_head(dp_feats, kpt_feats)
        out: Dict[str, object] = {}
        if densepose or self.with_refine:
            out.update(dp_feats=dp_feats, dp_output=self.densepose_predictor(dp_feats))
        if keypoint or self.with_refine:
            out.update(kpt_feats=kpt_feats,
                       kpt_heatmaps=self.keypoint_head.forward_predictor(kpt_feats))
        return out

    #: Output names of :meth:`forward_branches` -> key of :meth:`_branch_forward`.
    BRANCH_OUTPUTS = {'densepose': 'dp_output', 'densepose_feats': 'dp_feats',
                      'keypoint': 'kpt_heatmaps', 'keypoint_feats': 'kpt_feats'}

    def forward_branches(self, x: Tuple[Tensor], rois: Tensor,
                         names: Sequence[str]) -> Dict[str, object]:
        """Run the branches that produce ``names`` on given RoIs.

        The public contract for output-level distillation and for running
        the branches on boxes from another detector.

        Args:
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): (M, 5) RoIs ``(batch_idx, x1, y1, x2, y2)`` in the
                network input frame.
            names (Sequence[str]): Any of ``'densepose'``
                (:obj:`DensePoseChartPredictorOutput`), ``'densepose_feats'``
                (M, C, S, S), ``'keypoint'`` (M, K, H, W heatmap logits),
                ``'keypoint_feats'``.

        Returns:
            dict[str, object]: The requested outputs by name.
        """
        unknown = [n for n in names if n not in self.BRANCH_OUTPUTS]
        if unknown:
            raise KeyError(f'unknown branch outputs {unknown}; valid: '
                           f'{sorted(self.BRANCH_OUTPUTS)}')
        want_dp = any(n.startswith('densepose') for n in names)
        want_kpt = any(n.startswith('keypoint') for n in names)
        if want_dp and not self.with_densepose or want_kpt and not self.with_keypoint:
            raise KeyError(f'{type(self).__name__} has no branch for {list(names)}')
        out = self._branch_forward(x, rois, densepose=want_dp, keypoint=want_kpt)
        return {n: out[self.BRANCH_OUTPUTS[n]] for n in names}

    def _densepose_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        """DensePose branch on ``rois`` (M, 5): ``dp_feats``, ``dp_output``."""
        return self._branch_forward(x, rois, densepose=True, keypoint=False)

    def _keypoint_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        """Keypoint branch on ``rois`` (M, 5): ``kpt_feats``, ``kpt_heatmaps``."""
        return self._branch_forward(x, rois, densepose=False, keypoint=True)

    def forward(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
                batch_data_samples: SampleList = None) -> tuple:
        """Tensor-only forward (for FLOPs counting / export); the branches run
        on the first ``test_cfg.max_per_img`` proposals."""
        results = super().forward(x, rpn_results_list, batch_data_samples)
        if self.with_densepose or self.with_keypoint:
            max_rois = self.test_cfg.get('max_per_img', 100) if self.test_cfg else 100
            rois = bbox2roi([res.bboxes for res in rpn_results_list])[:max_rois]
            out = self._branch_forward(x, rois)
            if 'dp_output' in out:
                dp = out['dp_output']
                results = results + (dp.coarse_segm, dp.fine_segm, dp.u, dp.v)
            if 'kpt_heatmaps' in out:
                results = results + (out['kpt_heatmaps'], )
        return results

    # ------------------------------------------------------------------ loss
    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """Box, DensePose and keypoint losses."""
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError(f'{len(rpn_results_list)} proposal lists for '
                             f'{len(batch_data_samples)} samples')
        batch_gt_instances, batch_gt_instances_ignore, _ = unpack_gt_instances(
            batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop('bboxes')
            assign_result = self.bbox_assigner.assign(rpn_results, batch_gt_instances[i],
                                                      batch_gt_instances_ignore[i])
            sampling_results.append(
                self.bbox_sampler.sample(assign_result, rpn_results, batch_gt_instances[i],
                                         feats=[lvl[i][None] for lvl in x]))
        losses = dict()
        if self.with_bbox:
            losses.update(self.bbox_loss(x, sampling_results)['loss_bbox'])
        if self.with_densepose or self.with_keypoint:
            losses.update(self.densepose_keypoint_loss(x, sampling_results, batch_gt_instances))
        return losses

    def _positive_targets(self, sampling_results: list,
                          batch_gt_instances: InstanceList) -> Dict[str, Tensor]:
        """Gather positive RoIs with their matched GT and branch eligibility."""
        rois = bbox2roi([res.pos_priors for res in sampling_results])
        proposals = rois[:, 1:]
        gt_bboxes, dp_targets, keypoints, visible = [], [], [], []
        for res, gt in zip(sampling_results, batch_gt_instances):
            inds = res.pos_assigned_gt_inds.long()
            gt_bboxes.append(get_box_tensor(gt.bboxes)[inds])
            if self.with_densepose:
                dp = (gt.densepose if 'densepose' in gt else DensePoseTargets.empty(len(gt)).to(
                    gt.labels.device))
                dp_targets.append(dp[inds.cpu()])
            if self.with_keypoint:
                keypoints.append(gt.keypoints[inds])
                visible.append(gt.keypoints_visible[inds])
        gt_bboxes = torch.cat(gt_bboxes) if gt_bboxes else proposals.new_zeros((0, 4))
        num = len(rois)
        out = dict(rois=rois, proposals=proposals, gt_bboxes=gt_bboxes)
        false = torch.zeros(num, dtype=torch.bool, device=rois.device)
        out['dp_ok'] = out['kpt_ok'] = false
        if self.with_densepose:
            dp_targets = DensePoseTargets.cat(dp_targets)
            thr = self.train_cfg.get('densepose_iou_thr', 0.7) if self.train_cfg else 0.7
            iou = bbox_overlaps(proposals, gt_bboxes, is_aligned=True)
            out['dp_targets'] = dp_targets
            out['dp_ok'] = (iou >= thr) & dp_targets.has_dp.to(rois.device)
        if self.with_keypoint:
            keypoints, visible = torch.cat(keypoints), torch.cat(visible)
            out.update(keypoints=keypoints, keypoints_visible=visible,
                       kpt_ok=self.keypoint_head.has_visible_keypoints(
                           proposals, keypoints, visible))
        return out

    def densepose_keypoint_loss(self, x: Tuple[Tensor], sampling_results: list,
                                batch_gt_instances: InstanceList) -> dict:
        """Losses of the DensePose and keypoint branches (and refinement).

        A branch without any eligible RoI in the batch runs on one sampled
        RoI with empty targets, so that its loss is zero but still in the
        graph (DDP never waits for missing gradients).
        """
        t = self._positive_targets(sampling_results, batch_gt_instances)
        if self.with_refine:
            # Both branches run on the union of their RoIs; each loss keeps
            # its own, and the refine head weights them (paper: 0.6 / 0.3).
            use = t['dp_ok'] | t['kpt_ok']
            out = self._branch_forward(x, self._rois_or_fallback(t, use, sampling_results))
            losses = self.densepose_loss(out, t, use, t['dp_ok'])
            losses.update(self.keypoint_loss(out, t, use, t['kpt_ok']))
            return self.refine_head.weight_losses(losses)
        losses = dict()
        if self.with_densepose:
            ok = t['dp_ok']
            out = self._densepose_forward(x, self._rois_or_fallback(t, ok, sampling_results))
            losses.update(self.densepose_loss(out, t, ok, ok))
        if self.with_keypoint:
            ok = t['kpt_ok']
            out = self._keypoint_forward(x, self._rois_or_fallback(t, ok, sampling_results))
            losses.update(self.keypoint_loss(out, t, ok, ok))
        return losses

    @staticmethod
    def _rois_or_fallback(t: dict, keep: Tensor, sampling_results: list) -> Tensor:
        if bool(keep.any()):
            return t['rois'][keep]
        return bbox2roi([res.priors for res in sampling_results])[:1]

    @staticmethod
    def _loss_indices(forwarded: Tensor, eligible: Tensor) -> Tuple[Tensor, Tensor]:
        """Which forwarded RoIs are eligible (``sel``) and their indices
        among all positives (``idx``)."""
        sel = eligible[forwarded]
        return sel, torch.nonzero(forwarded, as_tuple=False)[:, 0][sel]

    def densepose_loss(self, out: dict, targets: dict, forwarded: Tensor,
                       eligible: Tensor) -> Dict[str, Tensor]:
        """DensePose chart loss.

        Args:
            out (dict): Branch outputs on the RoIs ``targets['rois'][forwarded]``
                (or on one fallback RoI when ``forwarded`` is all False).
            targets (dict): Output of :meth:`_positive_targets`.
            forwarded (Tensor): (P,) bool over all positives.
            eligible (Tensor): (P,) bool, DensePose-eligible positives.
        """
        dp_output: DensePoseChartPredictorOutput = out['dp_output']
        sel, idx = self._loss_indices(forwarded, eligible)
        if not bool(sel.any()):
            n = len(dp_output)
            return self.densepose_loss_fn(dp_output, dp_output.u.new_zeros((n, 4)),
                                          dp_output.u.new_ones((n, 4)), DensePoseTargets.empty(n))
        return self.densepose_loss_fn(dp_output[sel], targets['proposals'][idx],
                                      targets['gt_bboxes'][idx], targets['dp_targets'][idx.cpu()])

    def keypoint_loss(self, out: dict, targets: dict, forwarded: Tensor,
                      eligible: Tensor) -> Dict[str, Tensor]:
        """Keypoint loss (arguments as :meth:`densepose_loss`)."""
        heatmaps = out['kpt_heatmaps']
        sel, idx = self._loss_indices(forwarded, eligible)
        if not bool(sel.any()):
            n, k = heatmaps.shape[:2]
            return self.keypoint_head.roi_loss(heatmaps, heatmaps.new_ones((n, 4)).cumsum(1),
                                               heatmaps.new_zeros((n, k, 2)),
                                               heatmaps.new_zeros((n, k)))
        return self.keypoint_head.roi_loss(heatmaps[sel], targets['proposals'][idx],
                                           targets['keypoints'][idx],
                                           targets['keypoints_visible'][idx])

    # --------------------------------------------------------------- predict
    def predict(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
                batch_data_samples: SampleList, rescale: bool = False) -> InstanceList:
        """Detections with DensePose charts and keypoints.

        Boxes are predicted in the network input frame, the branches run on
        them there, and then boxes, charts and keypoints are expressed in the
        original image frame when ``rescale``.
        """
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        with_branches = self.with_densepose or self.with_keypoint
        results_list = self.predict_bbox(x, batch_img_metas, rpn_results_list,
                                         rcnn_test_cfg=self.test_cfg,
                                         rescale=rescale and not with_branches)
        if not with_branches:
            return results_list
        rois = bbox2roi([res.bboxes for res in results_list])
        out = self._branch_forward(x, rois) if len(rois) else {}
        if rescale:
            for res, meta in zip(results_list, batch_img_metas):
                res.bboxes = scale_boxes(res.bboxes, [1 / s for s in meta['scale_factor']])
        if self.with_densepose:
            self.predict_densepose(x, batch_img_metas, results_list, branch_outputs=out)
        if self.with_keypoint:
            self.predict_keypoint(x, batch_img_metas, results_list, branch_outputs=out)
        return results_list

    def _outputs_for(self, x: Tuple[Tensor], results_list: InstanceList,
                     branch_outputs: Optional[dict], key: str) -> Optional[object]:
        if branch_outputs is not None:
            return branch_outputs.get(key)
        rois = bbox2roi([res.bboxes for res in results_list])
        return self._branch_forward(x, rois)[key] if len(rois) else None

    def predict_densepose(self, x: Tuple[Tensor], batch_img_metas: List[dict],
                          results_list: InstanceList,
                          branch_outputs: Optional[dict] = None) -> InstanceList:
        """Add ``densepose`` (:obj:`DensePoseChartResults`) to each result.

        The charts are resized to each box of ``results_list`` (in whatever
        frame those boxes are): labels = coarse foreground x argmax of the
        fine parts, U and V read from the label's channel.

        Args:
            x (tuple[Tensor]): FPN features (used when ``branch_outputs`` is
                None, then the boxes must be in the network input frame).
            batch_img_metas (list[dict]): Image metas.
            results_list (list[InstanceData]): Detections per image.
            branch_outputs (dict, optional): Precomputed
                :meth:`_branch_forward` outputs on all boxes of the batch.
        """
        dp_output = self._outputs_for(x, results_list, branch_outputs, 'dp_output')
        start = 0
        for res in results_list:
            n = len(res)
            boxes = get_box_tensor(res.bboxes)
            labels, uvs = [], []
            for i in range(n):
                lb, uv = charts_to_box(dp_output[start + i], boxes[i])
                labels.append(lb)
                uvs.append(uv)
            res.densepose = DensePoseChartResults(labels, uvs)
            start += n
        return results_list

    def predict_keypoint(self, x: Tuple[Tensor], batch_img_metas: List[dict],
                         results_list: InstanceList,
                         branch_outputs: Optional[dict] = None) -> InstanceList:
        """Add ``keypoints`` (N, K, 2) and ``keypoint_scores`` (N, K) decoded
        in the frame of each result's boxes (arguments as
        :meth:`predict_densepose`)."""
        heatmaps = self._outputs_for(x, results_list, branch_outputs, 'kpt_heatmaps')
        start = 0
        for res in results_list:
            n = len(res)
            boxes = get_box_tensor(res.bboxes)
            if n == 0:
                k = self.keypoint_head.num_keypoints
                res.keypoints = boxes.new_zeros((0, k, 2))
                res.keypoint_scores = boxes.new_zeros((0, k))
                continue
            kpts, scores = self.keypoint_head.roi_predict(heatmaps[start:start + n], boxes)
            res.keypoints, res.keypoint_scores = kpts, scores
            start += n
        return results_list


def charts_to_box(dp_output: DensePoseChartPredictorOutput,
                  box: Tensor) -> Tuple[Tensor, Tensor]:
    """Turn the predictor output of one RoI into the chart of its box.

    Args:
        dp_output (DensePoseChartPredictorOutput): Output of one RoI
            (tensors with a leading dimension of 1).
        box (Tensor): (4,) xyxy box in the frame of the result.

    Returns:
        tuple[Tensor, Tensor]: (h, w) uint8 labels in 0..24 and (2, h, w) U, V
        in [0, 1], with ``h = max(int(y1 - y0), 1)``, ``w = max(int(x1 - x0), 1)``.
    """
    w = max(int(box[2] - box[0]), 1)
    h = max(int(box[3] - box[1]), 1)
    # One resize of all channels: [coarse (C) | fine (25) | U (25) | V (25)].
    maps = torch.cat([dp_output.coarse_segm, dp_output.fine_segm, dp_output.u, dp_output.v], 1)
    maps = F.interpolate(maps, (h, w), mode='bilinear', align_corners=False)[0]
    c, n = dp_output.coarse_segm.shape[1], dp_output.fine_segm.shape[1]
    coarse, fine, u, v = maps.split([c, n, n, n])
    labels = fine.argmax(dim=0) * (coarse.argmax(dim=0) > 0)
    index = labels[None]
    uv = torch.cat([u.gather(0, index), v.gather(0, index)]).clamp(0, 1)
    return labels.to(torch.uint8), uv
