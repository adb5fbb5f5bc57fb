# Copyright (c) mmdensekd contributors. All rights reserved.
"""Keypoint R-CNN mask-style keypoint head (He et al., "Mask R-CNN", 2017).

Shape legend used below:

* ``M``: number of RoIs; ``B``: batch size (top-down use)
* ``C``: input channels; ``K``: number of keypoints
* ``h x w``: input feature size (14 x 14 for RoIs);
  ``H x W``: heatmap size, ``4h x 4w`` (56 x 56 for RoIs)
"""
import logging
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmpose.models.heads.base_head import BaseHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.utils.tensor_utils import to_numpy
from torch import Tensor, nn

from mmdensekd.models.task_modules import RCNNKeypointCoder  # noqa: F401 (registers it)
from mmdensekd.registry import KEYPOINT_CODECS, MODELS, POSE_MODELS, TASK_UTILS

FeatsType = Union[Tensor, Sequence[Tensor]]


def _build_in_mmpose_scope(registry, cfg: dict, key: str):
    """Build ``cfg`` from an mmpose registry whatever the default scope is.

    Our detectors run under ``default_scope='mmdet'``, where mmpose names
    (``'KeypointMSELoss'``, codecs) would not resolve; an explicit
    ``_scope_`` makes the nested build look in mmpose's registries.
    """
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'`{key}` must be a config dict with a "type" key, got {cfg!r}')
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'mmpose')
    return registry.build(cfg)


@POSE_MODELS.register_module()
class KeypointRCNNHead(BaseHead):
    """Keypoint R-CNN head, usable on RoI features or as a top-down head.

    Architecture: ``num_convs`` x (conv3x3 ``conv_channels`` + ReLU) ->
    ConvTranspose2d(``conv_channels``, ``K``, 4, stride 2, pad 1) -> bilinear
    x2; a ``14 x 14`` RoI feature gives ``56 x 56`` heatmap logits.

    RoI path (called by ``DensePoseRoIHead``, mmdet's ``FCNMaskHead``
    pattern): :meth:`forward_features`, :meth:`forward_predictor`,
    :meth:`get_targets` (cell indices from ``coder``; a positive RoI is
    eligible when it holds a visible keypoint of its GT),
    :meth:`loss_and_target` (a spatial softmax cross-entropy over the ``H*W``
    cells, averaged over the visible keypoints inside their RoI) and
    :meth:`predict_by_feat` (decoded by ``coder``).

    Top-down path (mmpose ``TopdownPoseEstimator``): :meth:`forward` on the
    backbone features, :meth:`loss` against the heatmaps an mmpose codec
    (e.g. ``MSRAHeatmap``, ``UDPHeatmap``) wrote into the data samples, and
    :meth:`predict` decoded by ``decoder``. The codec's heatmap size must be
    4x the feature size.

    Args:
        in_channels (int): Input feature channels ``C``. Defaults to 256.
        num_convs (int): Number of 3x3 conv + ReLU layers. Defaults to 8.
        conv_channels (int): Channels of those layers. Defaults to 512.
        num_keypoints (int): Number of keypoints ``K``. Defaults to 17.
        coder (dict): RoI target coder (mmdet ``TASK_UTILS``). Defaults to
            ``dict(type='RCNNKeypointCoder')`` (56 x 56 grid).
        loss_keypoint (dict, optional): The RoI keypoint loss, whose
            ``loss_weight`` is the one weight of the keypoint branch (e.g.
            the paper's 0.3); ``type`` defaults to ``'KeypointCELoss'``.
            Defaults to ``dict(type='KeypointCELoss', loss_weight=1.0)``.
        loss_weight (float, optional): Deprecated shortcut for
            ``loss_keypoint.loss_weight`` (a warning says so); an error next
            to ``loss_keypoint``.
        topdown_loss (dict): Loss of the top-down path. Defaults to
            ``dict(type='KeypointMSELoss', use_target_weight=True)``.
        decoder (dict, optional): mmpose codec decoding top-down heatmaps.
            Defaults to None (top-down ``predict`` unavailable).
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to Kaiming normal (fan_out, ReLU) with zero bias.
        codec (dict, optional): Removed (renamed ``coder``); setting it is an
            error.
    """

    def __init__(self,
                 in_channels: int = 256,
                 num_convs: int = 8,
                 conv_channels: int = 512,
                 num_keypoints: int = 17,
                 coder: dict = dict(type='RCNNKeypointCoder'),
                 loss_keypoint: Optional[dict] = None,
                 loss_weight: Optional[float] = None,
                 topdown_loss: dict = dict(type='KeypointMSELoss', use_target_weight=True),
                 decoder: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None,
                 codec: Optional[dict] = None) -> None:
        if codec is not None:
            raise ValueError('KeypointRCNNHead: `codec` was renamed `coder` (an mmdet TASK_UTILS '
                             "coder, e.g. dict(type='RCNNKeypointCoder')); mmpose codecs that "
                             'decode top-down heatmaps go in `decoder`')
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer=['Conv2d', 'ConvTranspose2d'], mode='fan_out',
                     nonlinearity='relu', distribution='normal', bias=0)
            ]
        super().__init__(init_cfg=init_cfg)
        for key, value in (('in_channels', in_channels), ('conv_channels', conv_channels),
                           ('num_keypoints', num_keypoints)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'`{key}` must be a positive integer, got {value!r}')
        if not isinstance(num_convs, int) or num_convs < 0:
            raise ValueError(f'`num_convs` must be a non-negative integer, got {num_convs!r}')
        self.in_channels = in_channels
        self.num_convs = num_convs
        self.conv_channels = conv_channels
        self.num_keypoints = num_keypoints
        if loss_keypoint is None:
            if loss_weight is not None:
                print_log('KeypointRCNNHead: `loss_weight` is deprecated; set '
                          f"loss_keypoint=dict(type='KeypointCELoss', loss_weight={loss_weight})",
                          logger='current', level=logging.WARNING)
            loss_keypoint = dict(type='KeypointCELoss',
                                 loss_weight=1.0 if loss_weight is None else loss_weight)
        elif loss_weight is not None:
            raise ValueError('KeypointRCNNHead: the keypoint loss is weighted once, by '
                             '`loss_keypoint.loss_weight`; remove `loss_weight`')
        # mmdet's registry (where mmdensekd registers), whichever scope builds this head
        loss_keypoint = dict(loss_keypoint)
        loss_keypoint.setdefault('type', 'KeypointCELoss')
        self.loss_keypoint = MODELS.build(dict(loss_keypoint, _scope_='mmdet'))

        if not isinstance(coder, dict) or 'type' not in coder:
            raise TypeError(f'`coder` must be a config dict with a "type" key, got {coder!r}')
        self.coder = TASK_UTILS.build(dict(coder, _scope_='mmdet'))
        if not all(hasattr(self.coder, a) for a in ('heatmap_size', 'encode', 'decode')):
            raise TypeError('`coder` must be a RoI keypoint coder with heatmap_size, encode() '
                            f'and decode() (e.g. RCNNKeypointCoder), got '
                            f'{type(self.coder).__name__}; mmpose codecs go in `decoder`')
        self.topdown_loss = (
            _build_in_mmpose_scope(POSE_MODELS, topdown_loss, 'topdown_loss')
            if topdown_loss is not None else None)
        self.decoder = (
            _build_in_mmpose_scope(KEYPOINT_CODECS, decoder, 'decoder')
            if decoder is not None else None)

        layers = []
        channels = in_channels
        for _ in range(num_convs):
            layers += [nn.Conv2d(channels, conv_channels, 3, padding=1), nn.ReLU(inplace=True)]
            channels = conv_channels
        self.convs = nn.Sequential(*layers)
        self.out_channels = channels
        self.deconv = nn.ConvTranspose2d(channels, num_keypoints, 4, stride=2, padding=1)

    # ----------------------------------------------------------------- forward
    def forward_features(self, x: Tensor) -> Tensor:
        """Conv tower: ``(M, C, h, w) -> (M, conv_channels, h, w)``."""
        return self.convs(x)

    def forward_predictor(self, feats: Tensor) -> Tensor:
        """Predictor: ``(M, conv_channels, h, w) -> (M, K, 4h, 4w)`` logits."""
        x = self.deconv(feats)
        return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)

    def forward(self, feats: FeatsType) -> Tensor:
        """Heatmap logits from RoI features or a tuple of backbone features.

        Args:
            feats (Tensor | Sequence[Tensor]): ``(M, C, h, w)``, or a
                sequence of feature maps of which the last is used (mmpose
                top-down convention).

        Returns:
            Tensor: ``(M, K, 4h, 4w)`` heatmap logits.
        """
        if isinstance(feats, (list, tuple)):
            feats = feats[-1]
        return self.forward_predictor(self.forward_features(feats))

    # ---------------------------------------------------------------- RoI path
    def _check_heatmap_size(self, heatmaps: Tensor) -> None:
        width, height = self.coder.heatmap_size
        if tuple(heatmaps.shape[-2:]) != (height, width):
            raise ValueError(
                f'`coder.heatmap_size` (W, H) = {tuple(self.coder.heatmap_size)} does not match '
                f'the predicted heatmaps of size (H, W) = {tuple(heatmaps.shape[-2:])}; the head '
                'predicts 4x its input feature size')

    def get_targets(self, sampling_results: list, batch_gt_instances: list) -> dict:
        """Cell-index targets of every positive RoI of the batch.

        Args:
            sampling_results (list[SamplingResult]): Per image.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``keypoints`` (N, K, 2) and ``keypoints_visible`` (N, K).

        Returns:
            dict: over the ``P`` positives, ``proposals`` (P, 4), ``labels``
            (P, K) long cell indices, ``weights`` (P, K) float and
            ``eligible`` (P,) bool: the RoI holds at least one visible GT
            keypoint (Keypoint R-CNN trains only on those).
        """
        proposals, keypoints, visible = [], [], []
        for res, gt in zip(sampling_results, batch_gt_instances):
            inds = res.pos_assigned_gt_inds.long()
            proposals.append(get_box_tensor(res.pos_priors))
            keypoints.append(gt.keypoints[inds])
            visible.append(gt.keypoints_visible[inds])
        proposals = torch.cat(proposals)
        labels, weights = self.coder.encode(torch.cat(keypoints), torch.cat(visible), proposals)
        return dict(proposals=proposals, labels=labels, weights=weights,
                    eligible=weights.bool().any(dim=1))

    def loss_by_feat(self, heatmaps: Tensor, labels: Tensor, weights: Tensor) -> dict:
        """The keypoint loss (``loss_keypoint``, e.g. :class:`KeypointCELoss`).

        Args:
            heatmaps (Tensor): ``(M, K, H, W)`` logits.
            labels (Tensor): ``(M, K)`` target cell indices.
            weights (Tensor): ``(M, K)`` target weights (0 = no target).

        Returns:
            dict: ``loss_keypoint`` (weighted by the loss's ``loss_weight``).
        """
        self._check_heatmap_size(heatmaps)
        return dict(loss_keypoint=self.loss_keypoint(heatmaps, labels, weights))

    def loss_and_target(self, heatmaps: Tensor, targets: dict, forwarded: Tensor) -> dict:
        """Keypoint loss of the eligible RoIs among those the branch ran on.

        Args:
            heatmaps (Tensor): ``(M, K, H, W)`` logits on the positive RoIs
                selected by ``forwarded`` (or on one fallback RoI when
                ``forwarded`` is all False).
            targets (dict): Output of :meth:`get_targets`.
            forwarded (Tensor): ``(P,)`` bool over the positives.

        Returns:
            dict: ``loss_keypoint`` (see :meth:`loss_by_feat`).
        """
        sel = targets['eligible'][forwarded]
        if not bool(sel.any()):
            self._check_heatmap_size(heatmaps)
            return dict(loss_keypoint=heatmaps.sum() * 0)
        idx = torch.nonzero(forwarded, as_tuple=False)[:, 0][sel]
        return self.loss_by_feat(heatmaps[sel], targets['labels'][idx], targets['weights'][idx])

    def predict_by_feat(self,
                        heatmaps: Optional[Tensor],
                        results_list: InstanceList,
                        batch_img_metas: Optional[List[dict]] = None,
                        rescale: bool = False) -> InstanceList:
        """Add ``keypoints`` (N, K, 2) and ``keypoint_scores`` (N, K) to each
        result.

        The heatmaps are decoded with ``coder`` at each image's boxes (the
        frame they were pooled in: the network input, as detectron2); with
        ``rescale`` the keypoints are then divided by the image's
        ``scale_factor`` (the boxes are not changed).

        Args:
            heatmaps (Tensor, optional): ``(M, K, H, W)`` logits on all boxes
                of the batch, in order; None when there is none.
            results_list (list[InstanceData]): Detections per image.
            batch_img_metas (list[dict], optional): Image metas (needed with
                ``rescale``).
            rescale (bool): Scale the keypoints to the original image.

        Returns:
            list[InstanceData]: ``results_list``, updated in place.
        """
        num = sum(len(res) for res in results_list)
        if num != (0 if heatmaps is None else len(heatmaps)):
            raise ValueError(f'{num} detections but keypoint heatmaps for '
                             f'{0 if heatmaps is None else len(heatmaps)} boxes')
        if rescale and batch_img_metas is None:
            raise ValueError('predict_by_feat: rescale needs batch_img_metas')
        if heatmaps is not None:
            self._check_heatmap_size(heatmaps)
        start = 0
        for i, res in enumerate(results_list):
            n = len(res)
            boxes = get_box_tensor(res.bboxes)
            if n == 0:
                res.keypoints = boxes.new_zeros((0, self.num_keypoints, 2))
                res.keypoint_scores = boxes.new_zeros((0, self.num_keypoints))
                continue
            kpts, scores = self.coder.decode(heatmaps[start:start + n], boxes)
            if rescale:
                kpts = kpts / kpts.new_tensor(batch_img_metas[i]['scale_factor'][:2])
            res.keypoints, res.keypoint_scores = kpts, scores
            start += n
        return results_list

    # ----------------------------------------------------------- top-down path
    def loss(self, feats: FeatsType, batch_data_samples: Sequence,
             train_cfg: Optional[dict] = None) -> dict:
        """Top-down loss against codec heatmaps in ``gt_fields.heatmaps``.

        Args:
            feats (Sequence[Tensor]): Backbone features; the last is used.
            batch_data_samples (list[PoseDataSample]): Samples carrying
                ``gt_fields.heatmaps`` ``(K, H, W)`` and
                ``gt_instance_labels.keypoint_weights`` ``(1, K)``.
            train_cfg (dict, optional): ``compute_acc`` (default True) adds
                the PCK accuracy ``acc_pose``.

        Returns:
            dict: ``loss_kpt`` (and ``acc_pose``).
        """
        train_cfg = train_cfg or {}
        if self.topdown_loss is None:
            raise RuntimeError('`topdown_loss` is None: this KeypointRCNNHead cannot be trained '
                               'top-down')
        pred = self.forward(feats)
        if len(batch_data_samples) == 0:
            return dict(loss_kpt=pred.sum() * 0)
        gt_heatmaps = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples]).to(pred)
        if gt_heatmaps.shape[-2:] != pred.shape[-2:]:
            raise ValueError(
                f'the codec heatmap size (H, W) = {tuple(gt_heatmaps.shape[-2:])} does not match '
                f'the head output {tuple(pred.shape[-2:])}: set `codec.heatmap_size` to 4x the '
                'backbone feature size')
        weights = torch.cat(
            [d.gt_instance_labels.keypoint_weights for d in batch_data_samples]).to(pred)
        losses = dict(loss_kpt=self.topdown_loss(pred, gt_heatmaps, weights))
        if train_cfg.get('compute_acc', True):
            from mmpose.evaluation.functional import pose_pck_accuracy
            _, avg_acc, _ = pose_pck_accuracy(
                output=to_numpy(pred), target=to_numpy(gt_heatmaps),
                mask=to_numpy(weights) > 0)
            losses['acc_pose'] = torch.tensor(avg_acc, device=pred.device)
        return losses

    def predict(self, feats, batch_data_samples: Sequence,
                test_cfg: Optional[dict] = None):
        """Top-down prediction decoded by ``decoder`` (an mmpose codec).

        Args:
            feats (Sequence[Tensor] | list[Sequence[Tensor]]): Backbone
                features, or ``[feats, flipped_feats]`` with ``flip_test``.
            batch_data_samples (list[PoseDataSample]): The batch samples.
            test_cfg (dict, optional): ``flip_test``, ``flip_mode``,
                ``shift_heatmap``, ``output_heatmaps``.

        Returns:
            list[InstanceData] | tuple: keypoints ``(1, K, 2)`` and
            keypoint_scores ``(1, K)`` per sample in the input-image frame,
            plus ``PixelData`` heatmaps with ``output_heatmaps``.
        """
        test_cfg = test_cfg or {}
        if test_cfg.get('flip_test', False):
            if not (isinstance(feats, list) and len(feats) == 2):
                raise ValueError('`flip_test` expects feats = [feats, flipped_feats]')
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            heatmaps = self.forward(feats[0])
            flipped = flip_heatmaps(
                self.forward(feats[1]), flip_mode=test_cfg.get('flip_mode', 'heatmap'),
                flip_indices=flip_indices, shift_heatmap=test_cfg.get('shift_heatmap', False))
            heatmaps = (heatmaps + flipped) * 0.5
        else:
            heatmaps = self.forward(feats)
        preds = self.decode(heatmaps)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
        return preds


__all__ = ['KeypointRCNNHead']
