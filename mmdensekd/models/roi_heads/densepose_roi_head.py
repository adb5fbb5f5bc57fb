# Copyright (c) mmdensekd contributors. All rights reserved.
"""RoI head with box, DensePose, keypoint and refinement branches."""
from typing import Dict, List, Optional, Sequence, Tuple

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, scale_boxes
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from torch import Tensor

from mmdensekd.registry import MODELS

#: Keys that moved: old config key -> where the value goes now.
_MOVED_KEYS = {
    'densepose_loss': 'densepose_predictor.loss_densepose (type DensePoseChartHead)',
}
_REMOVED_REFINE_KEYS = {
    'dp_loss_weight': 'densepose_predictor.loss_densepose.loss_weight',
    'kpt_loss_weight': 'keypoint_head.loss_keypoint.loss_weight',
}


@MODELS.register_module()
class DensePoseRoIHead(StandardRoIHead):
    """mmdet's ``StandardRoIHead`` with DensePose, keypoint and refinement
    branches (Güler et al., "DensePose", 2018; He et al., "Mask R-CNN",
    2017). It only routes RoIs: each branch head owns
    its targets, loss and decoding (mmdet's ``FCNMaskHead`` pattern).

    * DensePose (:class:`~mmdensekd.models.heads.DensePoseChartHead`):
      trained on the positive proposals its ``get_targets`` marks eligible
      (IoU >= ``train_cfg.densepose_iou_thr`` to a DensePose-annotated GT);
      predicts charts on the final detections.
    * Keypoints (:class:`~mmdensekd.models.heads.KeypointRCNNHead`): trained
      on positive proposals that contain a visible keypoint of their GT.
    * Refinement: the two branches' features are fused by ``refine_head`` and
      each branch's predictor runs on its refined features; both branches
      then see the union of their training RoIs and each loss keeps only its
      own eligible RoIs.

    Loss weights live in each branch's loss config only
    (``densepose_predictor.loss_densepose.loss_weight``,
    ``keypoint_head.loss_keypoint.loss_weight``).

    Shape legend: ``M`` RoIs, ``P`` positive RoIs, ``K`` keypoints.

    Args:
        bbox_roi_extractor, bbox_head, shared_head: as ``StandardRoIHead``.
        densepose_roi_extractor (dict, optional): RoI extractor of the
            DensePose branch (28x28 in the s1x recipe).
        densepose_head (dict, optional): DensePose feature head (conv tower).
        densepose_predictor (dict, optional): Chart head with its loss,
            e.g. ``dict(type='DensePoseChartHead', loss_densepose=...)``.
        keypoint_roi_extractor (dict, optional): RoI extractor of the
            keypoint branch (14x14).
        keypoint_head (dict, optional): Keypoint head, e.g.
            ``dict(type='mmpose.KeypointRCNNHead', ...)``.
        refine_head (dict, optional): DensePose-keypoint refinement unit;
            needs both branches.
        train_cfg, test_cfg, init_cfg: as ``StandardRoIHead``. ``train_cfg``
            may set ``densepose_iou_thr`` (the chart head's default when
            absent).
        densepose_loss (dict, optional): Moved into ``densepose_predictor``
            as ``loss_densepose``; setting it is an error.
    """

    def __init__(self,
                 bbox_roi_extractor: OptMultiConfig = None,
                 bbox_head: OptMultiConfig = None,
                 densepose_roi_extractor: OptMultiConfig = None,
                 densepose_head: OptConfigType = None,
                 densepose_predictor: OptConfigType = None,
                 keypoint_roi_extractor: OptMultiConfig = None,
                 keypoint_head: OptConfigType = None,
                 refine_head: OptConfigType = None,
                 shared_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 densepose_loss: OptConfigType = None) -> None:
        if densepose_loss is not None:
            raise ValueError('DensePoseRoIHead: `densepose_loss` moved to '
                             f"{_MOVED_KEYS['densepose_loss']}")
        super().__init__(bbox_roi_extractor=bbox_roi_extractor, bbox_head=bbox_head,
                         shared_head=shared_head, train_cfg=train_cfg, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        if densepose_head is not None:
            self.init_densepose_head(densepose_roi_extractor, densepose_head,
                                     densepose_predictor)
        if keypoint_head is not None:
            self.init_keypoint_head(keypoint_roi_extractor, keypoint_head)
        if refine_head is not None:
            self.init_refine_head(refine_head)

    # ------------------------------------------------------------------ init
    def init_densepose_head(self, densepose_roi_extractor: ConfigType,
                            densepose_head: ConfigType,
                            densepose_predictor: ConfigType) -> None:
        """Build the DensePose RoI extractor, conv tower and chart head."""
        for key, cfg in (('densepose_roi_extractor', densepose_roi_extractor),
                         ('densepose_predictor', densepose_predictor)):
            if cfg is None:
                raise ValueError(f'densepose_head is set but {key} is missing')
        self.densepose_roi_extractor = MODELS.build(densepose_roi_extractor)
        self.densepose_head = MODELS.build(densepose_head)
        self.densepose_predictor = MODELS.build(densepose_predictor)
        for method in ('get_targets', 'loss_and_target', 'predict_by_feat'):
            if not callable(getattr(self.densepose_predictor, method, None)):
                raise TypeError(
                    f'densepose_predictor must be a chart head with {method}() (e.g. '
                    f'DensePoseChartHead), got {type(self.densepose_predictor).__name__}')

    def init_keypoint_head(self, keypoint_roi_extractor: ConfigType,
                           keypoint_head: ConfigType) -> None:
        """Build the keypoint RoI extractor and head."""
        if keypoint_roi_extractor is None:
            raise ValueError('keypoint_head is set but keypoint_roi_extractor is missing')
        self.keypoint_roi_extractor = MODELS.build(keypoint_roi_extractor)
        self.keypoint_head = MODELS.build(keypoint_head)

    def init_refine_head(self, refine_head: ConfigType) -> None:
        """Build the refinement unit (needs both branches)."""
        if not (self.with_densepose and self.with_keypoint):
            raise ValueError('refine_head needs both densepose_head and keypoint_head')
        for key, where in _REMOVED_REFINE_KEYS.items():
            if key in refine_head:
                raise ValueError(f'refine_head.{key} was removed: a loss weight is set once, '
                                 f'in {where}')
        self.refine_head = MODELS.build(refine_head)

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
    def _branch_forward(self, x: Tuple[Tensor], rois: Tensor, densepose: bool = True,
                        keypoint: bool = True) -> Dict[str, object]:
        """Run the requested branches on ``rois`` (both when refining).

        Returns:
            dict: ``dp_feats`` (M, C, S, S) and ``dp_output``
            (:obj:`DensePoseChartPredictorOutput`) for DensePose;
            ``kpt_feats`` and ``kpt_heatmaps`` (M, K, 56, 56) for keypoints.
        """
        run_dp = (densepose and self.with_densepose) or self.with_refine
        run_kpt = (keypoint and self.with_keypoint) or self.with_refine
        dp_feats = kpt_feats = None
        if run_dp:
            extractor = self.densepose_roi_extractor
            dp_feats = self.densepose_head(extractor(x[:extractor.num_inputs], rois))
        if run_kpt:
            extractor = self.keypoint_roi_extractor
            kpt_feats = self.keypoint_head.forward_features(
                extractor(x[:extractor.num_inputs], rois))
        if self.with_refine:
            dp_feats, kpt_feats = self.refine_head(dp_feats, kpt_feats)
        out: Dict[str, object] = {}
        if run_dp:
            out.update(dp_feats=dp_feats, dp_output=self.densepose_predictor(dp_feats))
        if run_kpt:
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
            losses.update(self.branch_losses(x, sampling_results, batch_gt_instances))
        return losses

    def branch_losses(self, x: Tuple[Tensor], sampling_results: list,
                      batch_gt_instances: InstanceList) -> dict:
        """Losses of the DensePose and keypoint branches (and refinement).

        Each branch head says which positive RoIs are eligible; the branch
        runs on those (with refinement, both run on the union). A branch
        without any RoI to run on runs on one sampled RoI, so that its loss
        is zero but still in the graph (DDP never waits for gradients).
        """
        pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
        dp_t = kpt_t = None
        if self.with_densepose:
            dp_t = self.densepose_predictor.get_targets(sampling_results, batch_gt_instances,
                                                        self.train_cfg)
        if self.with_keypoint:
            kpt_t = self.keypoint_head.get_targets(sampling_results, batch_gt_instances)
        if self.with_refine:
            use = dp_t['eligible'] | kpt_t['eligible']
            out = self._branch_forward(x, self._rois_or_fallback(pos_rois, use, sampling_results))
            losses = self.densepose_loss(out, dp_t, use)
            losses.update(self.keypoint_loss(out, kpt_t, use))
            return losses
        losses = dict()
        if self.with_densepose:
            ok = dp_t['eligible']
            out = self._densepose_forward(x, self._rois_or_fallback(pos_rois, ok,
                                                                    sampling_results))
            losses.update(self.densepose_loss(out, dp_t, ok))
        if self.with_keypoint:
            ok = kpt_t['eligible']
            out = self._keypoint_forward(x, self._rois_or_fallback(pos_rois, ok,
                                                                   sampling_results))
            losses.update(self.keypoint_loss(out, kpt_t, ok))
        return losses

    @staticmethod
    def _rois_or_fallback(pos_rois: Tensor, keep: Tensor, sampling_results: list) -> Tensor:
        if bool(keep.any()):
            return pos_rois[keep]
        return bbox2roi([res.priors for res in sampling_results])[:1]

    def densepose_loss(self, branch_outputs: dict, targets: dict,
                       forwarded: Tensor) -> Dict[str, Tensor]:
        """DensePose chart loss (``loss_densepose_{I,U,V,S}``).

        Args:
            branch_outputs (dict): :meth:`_branch_forward` outputs on the
                positives selected by ``forwarded`` (or one fallback RoI).
            targets (dict): ``densepose_predictor.get_targets`` output.
            forwarded (Tensor): (P,) bool over all positives.
        """
        return self.densepose_predictor.loss_and_target(branch_outputs['dp_output'], targets,
                                                        forwarded)['loss_densepose']

    def keypoint_loss(self, branch_outputs: dict, targets: dict,
                      forwarded: Tensor) -> Dict[str, Tensor]:
        """Keypoint loss (``loss_keypoint``; arguments as
        :meth:`densepose_loss`, targets from ``keypoint_head.get_targets``)."""
        return self.keypoint_head.loss_and_target(branch_outputs['kpt_heatmaps'], targets,
                                                  forwarded)

    # --------------------------------------------------------------- predict
    def predict(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
                batch_data_samples: SampleList, rescale: bool = False) -> InstanceList:
        """Detections with DensePose charts and keypoints.

        Boxes are predicted in the network input frame and the branches run
        on them there; keypoints are decoded there too and then scaled to
        the original image (as detectron2); with ``rescale`` the boxes are
        then expressed in the original image frame and the charts are
        resized to those boxes.
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
        if self.with_keypoint:
            self.predict_keypoint(x, batch_img_metas, results_list, branch_outputs=out,
                                  rescale=rescale)
        if rescale:
            for res, meta in zip(results_list, batch_img_metas):
                res.bboxes = scale_boxes(res.bboxes, [1 / s for s in meta['scale_factor']])
        if self.with_densepose:
            self.predict_densepose(x, batch_img_metas, results_list, branch_outputs=out)
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
        fine parts, U and V read from the label's channel
        (``densepose_predictor.predict_by_feat``).

        Args:
            x (tuple[Tensor]): FPN features (used when ``branch_outputs`` is
                None, then the boxes must be in the network input frame).
            batch_img_metas (list[dict]): Image metas.
            results_list (list[InstanceData]): Detections per image.
            branch_outputs (dict, optional): Precomputed
                :meth:`_branch_forward` outputs on all boxes of the batch.
        """
        dp_output = self._outputs_for(x, results_list, branch_outputs, 'dp_output')
        return self.densepose_predictor.predict_by_feat(dp_output, results_list)

    def predict_keypoint(self, x: Tuple[Tensor], batch_img_metas: List[dict],
                         results_list: InstanceList, branch_outputs: Optional[dict] = None,
                         rescale: bool = False) -> InstanceList:
        """Add ``keypoints`` (N, K, 2) and ``keypoint_scores`` (N, K).

        Heatmaps are decoded in the frame of each result's boxes (the network
        input frame, as detectron2); with ``rescale`` the keypoints are then
        divided by the image's ``scale_factor`` (the boxes are not changed):
        ``keypoint_head.predict_by_feat``.

        Args:
            x, batch_img_metas, results_list, branch_outputs: as
                :meth:`predict_densepose`.
            rescale (bool): Scale the keypoints to the original image.
        """
        heatmaps = self._outputs_for(x, results_list, branch_outputs, 'kpt_heatmaps')
        return self.keypoint_head.predict_by_feat(heatmaps, results_list, batch_img_metas,
                                                  rescale=rescale)
