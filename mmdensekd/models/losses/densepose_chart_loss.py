# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose chart loss (part classification, U/V regression, coarse segm)."""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdensekd.registry import MODELS
from mmdensekd.structures import DP_BOX_SIZE, DensePoseChartPredictorOutput, DensePoseTargets


def sample_bilinear(maps: Tensor, roi_inds: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """Bilinearly sample per-RoI maps at normalised positions.

    Pixel ``j`` of a map of width ``W`` covers ``[j / W, (j + 1) / W)`` and its
    value sits at its centre ``(j + 0.5) / W``; positions beyond the outer
    centres take the border value.

    Shape legend: ``M`` RoIs, ``C`` channels, ``P`` points.

    Args:
        maps (Tensor): (M, C, H, W).
        roi_inds (Tensor): (P,) long, the RoI of each point.
        u (Tensor): (P,) horizontal position in [0, 1] of the RoI.
        v (Tensor): (P,) vertical position in [0, 1] of the RoI.

    Returns:
        Tensor: (P, C) sampled values.
    """
    h, w = maps.shape[-2:]
    px = (u * w - 0.5).clamp(0, w - 1)
    py = (v * h - 0.5).clamp(0, h - 1)
    x0, y0 = px.floor().long(), py.floor().long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    wx, wy = (px - x0)[:, None], (py - y0)[:, None]
    return (maps[roi_inds, :, y0, x0] * (1 - wx) * (1 - wy) +
            maps[roi_inds, :, y0, x1] * wx * (1 - wy) +
            maps[roi_inds, :, y1, x0] * (1 - wx) * wy +
            maps[roi_inds, :, y1, x1] * wx * wy)


def gt_points_in_proposals(gt_densepose: DensePoseTargets, gt_bboxes: Tensor,
                           proposals: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Map GT points from their GT box frame into the proposal frame.

    ``x_img = gx0 + x * gw / 256`` then ``u = (x_img - px0) / pw``; points
    outside the proposal are dropped.

    Returns:
        tuple: ``roi_inds`` (P,) long, ``uv_pos`` (P, 2) positions in [0, 1]
        of the proposal, ``parts`` (P,) long fine part in 1..24 and
        ``uv_gt`` (P, 2) GT U, V.
    """
    return _points_in_proposals(gt_densepose, gt_bboxes, proposals)[:4]


def point_variances(gt_densepose: DensePoseTargets) -> Tensor:
    """Per-point U/V variance of every point (the optional sixth column of
    the points, e.g. a teacher's ``sigma_2`` written into pseudo-labels;
    NaN where an instance's points have five columns).

    Returns:
        Tensor: (sum P_i,) float, instance-major like the points.
    """
    return torch.cat([p[:, 5].float() if p.dim() == 2 and p.size(1) > 5 else
                      p.new_full((len(p), ), float('nan')).float()
                      for p in gt_densepose.points]) if len(gt_densepose) else torch.zeros(0)


def inverse_variance_weights(variances: Tensor) -> Tensor:
    """Per-point U/V loss weights from per-point variances.

    ``w_j = (1 / s_j) / mean_k(1 / s_k)`` over the points ``k`` that have a
    variance (not NaN); points without one (NaN) get ``w_j = 1``.

    Why this function: if a pseudo-label's U/V error is Gaussian with
    variance ``s_j`` (what a WC1 teacher's ``sigma_2`` estimates), the
    maximum-likelihood (minimum-variance) fit of independent targets weighs
    each squared residual by ``1 / s_j``. Normalising to mean 1 keeps the
    term's scale, so ``point_regression_weight``, ``loss_weight`` and the
    learning rate mean the same as without weighting, whatever the
    teacher's absolute calibration; and annotations without variances mixed
    into the batch keep their usual weight.

    Args:
        variances (Tensor): (P,) positive variances, NaN where unknown.

    Returns:
        Tensor: (P,) weights, detached (constants of the loss).
    """
    variances = variances.detach()
    known = ~torch.isnan(variances)
    weight = torch.ones_like(variances)
    if bool(known.any()):
        inv = 1.0 / variances[known].clamp(min=1e-12)
        weight[known] = inv / inv.mean()
    return weight


def _points_in_proposals(gt_densepose: DensePoseTargets, gt_bboxes: Tensor,
                         proposals: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """:func:`gt_points_in_proposals` plus the kept points' variances."""
    device = proposals.device
    counts = [len(p) for p in gt_densepose.points]
    if sum(counts) == 0:
        empty = proposals.new_zeros((0, 2))
        return (torch.zeros(0, dtype=torch.long, device=device), empty,
                torch.zeros(0, dtype=torch.long, device=device), empty,
                proposals.new_zeros((0, )))
    pts = torch.cat([p[:, :5] for p in gt_densepose.points]).to(device=device,
                                                                 dtype=proposals.dtype)
    var = point_variances(gt_densepose).to(device=device, dtype=proposals.dtype)
    roi_inds = torch.repeat_interleave(torch.arange(len(counts), device=device),
                                       torch.as_tensor(counts, device=device))
    gt = gt_bboxes[roi_inds]
    prop = proposals[roi_inds]
    x_img = gt[:, 0] + pts[:, 0] * (gt[:, 2] - gt[:, 0]) / DP_BOX_SIZE
    y_img = gt[:, 1] + pts[:, 1] * (gt[:, 3] - gt[:, 1]) / DP_BOX_SIZE
    u = (x_img - prop[:, 0]) / (prop[:, 2] - prop[:, 0]).clamp(min=1e-6)
    v = (y_img - prop[:, 1]) / (prop[:, 3] - prop[:, 1]).clamp(min=1e-6)
    keep = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    return (roi_inds[keep], torch.stack([u, v], dim=1)[keep], pts[keep, 2].round().long(),
            pts[keep, 3:5], var[keep])


def gaussian_uv_nll(delta_u: Tensor, delta_v: Tensor, sigma_2: Tensor,
                    kappa_u: Optional[Tensor] = None, kappa_v: Optional[Tensor] = None,
                    epsilon: float = 0.01) -> Tensor:
    """Per-point negative log-likelihood of the U/V residuals (Neverova et
    al., NeurIPS 2019; detectron2's ``IIDIsotropicGaussianUVLoss`` /
    ``IndepAnisotropicGaussianUVLoss``).

    With ``s = softplus(sigma_2) + epsilon`` and ``d = (delta_u, delta_v)``:
    iid isotropic (no kappa) ``0.5 (log 2 pi + 2 log s + |d|^2 / s)``;
    independent anisotropic with ``r = (kappa_u, kappa_v)``
    ``0.5 (log 2 pi + log(s (s + |r|^2)) + |d|^2 / s - <d, r>^2 / (s (s + |r|^2)))``.

    Returns:
        Tensor: the per-point loss, shape of ``delta_u``.
    """
    s = F.softplus(sigma_2) + epsilon
    sq = delta_u**2 + delta_v**2
    if kappa_u is None:
        return 0.5 * (math.log(2 * math.pi) + 2 * torch.log(s) + sq / s)
    denom = s * (s + kappa_u**2 + kappa_v**2)
    dr = delta_u * kappa_u + delta_v * kappa_v
    return 0.5 * (math.log(2 * math.pi) + torch.log(denom) + sq / s - dr**2 / denom)


def gt_segm_in_proposals(segms: Tensor, gt_bboxes: Tensor, proposals: Tensor,
                         size: Tuple[int, int]) -> Tensor:
    """Resample box-frame segmentations into each proposal's ``size`` grid
    (nearest neighbour at pixel centres; outside the GT box is background).

    Args:
        segms (Tensor): (M, 256, 256) uint8 labels in the GT box frame.
        gt_bboxes (Tensor): (M, 4) xyxy GT boxes.
        proposals (Tensor): (M, 4) xyxy proposals.
        size (tuple[int, int]): (H, W) of the output grid.

    Returns:
        Tensor: (M, H, W) long labels.
    """
    h, w = size
    device = proposals.device
    s = segms.shape[-1]
    cy = (torch.arange(h, device=device, dtype=proposals.dtype) + 0.5) / h
    cx = (torch.arange(w, device=device, dtype=proposals.dtype) + 0.5) / w
    y_img = proposals[:, 1:2] + cy[None] * (proposals[:, 3:4] - proposals[:, 1:2])
    x_img = proposals[:, 0:1] + cx[None] * (proposals[:, 2:3] - proposals[:, 0:1])
    gy = ((y_img - gt_bboxes[:, 1:2]) / (gt_bboxes[:, 3:4] - gt_bboxes[:, 1:2]) * s).floor()
    gx = ((x_img - gt_bboxes[:, 0:1]) / (gt_bboxes[:, 2:3] - gt_bboxes[:, 0:1]) * s).floor()
    valid = ((gy >= 0) & (gy < s))[:, :, None] & ((gx >= 0) & (gx < s))[:, None, :]
    iy = gy.clamp(0, s - 1).long()[:, :, None]
    ix = gx.clamp(0, s - 1).long()[:, None, :]
    m = torch.arange(len(segms), device=device)[:, None, None]
    labels = segms.to(device)[m, iy, ix].long()
    return labels * valid


@MODELS.register_module()
class DensePoseChartLoss(nn.Module):
    """The DensePose chart loss of detectron2's R-CNN recipe.

    For each RoI matched to a DensePose-annotated GT instance, the GT points
    are mapped from the GT box frame into the proposal frame (points outside
    are dropped) and the predictions are sampled there bilinearly:

    * ``loss_densepose_I``: cross-entropy of the 25 fine-part logits,
      averaged over points, times ``part_weight`` (1.0);
    * ``loss_densepose_U`` / ``_V``: smooth-L1 of the GT part's U / V
      channel, summed over points, times ``point_regression_weight`` (0.01);
    * ``loss_densepose_S``: cross-entropy of the coarse segmentation against
      the GT masks resampled into the proposal's output grid, averaged over
      pixels, times ``segm_weight`` (5.0). With 2 coarse channels the target
      is foreground / background, with 15 the coarse part.

    Every term is further scaled by ``loss_weight`` (e.g. the paper's 0.6).
    Without any GT point (or mask) the terms are ``0 * pred.sum()``: zero but
    connected to the graph so that DDP does not wait for missing gradients.

    Confidences (detectron2's ``DensePoseChartWithConfidenceLoss``): with
    ``uv_confidence`` (``'iid_iso'`` / ``'indep_aniso'``, the predictor's
    ``sigma_2`` / ``kappa_*`` outputs) U and V are one term
    ``loss_densepose_UV``: :func:`gaussian_uv_nll` summed over points, times
    ``point_regression_weight`` (detectron2's WC configs use 0.0005).

    Per-point weighting (``point_weighting=True``, off by default; see
    :func:`inverse_variance_weights`): the U/V term of a point with a sixth
    column (its U/V variance, e.g. a confidence teacher's ``sigma_2`` written
    into pseudo-labels as ``dp_sigma_2``) is weighted by ``1 / variance``,
    normalised to mean 1 over the batch's points that have a variance; a
    point without one keeps weight 1. The part term ``I`` is not weighted
    (``sigma_2`` is the uncertainty of U and V, not of the part label).

    Args:
        part_weight (float): Weight of the fine-part CE. Defaults to 1.0.
        point_regression_weight (float): Weight of U/V. Defaults to 0.01.
        segm_weight (float): Weight of the coarse segm CE. Defaults to 5.0.
        smooth_l1_beta (float): Beta of the smooth-L1. Defaults to 1.0.
        loss_weight (float): Global multiplier. Defaults to 1.0.
        uv_confidence (str, optional): None, ``'iid_iso'`` or
            ``'indep_aniso'``. Defaults to None.
        uv_confidence_epsilon (float): Lower bound of the variance. Defaults
            to 0.01.
        point_weighting (bool): Weight the U/V term of each point by its
            normalised inverse variance. Defaults to False.
    """

    def __init__(self,
                 part_weight: float = 1.0,
                 point_regression_weight: float = 0.01,
                 segm_weight: float = 5.0,
                 smooth_l1_beta: float = 1.0,
                 loss_weight: float = 1.0,
                 uv_confidence: Optional[str] = None,
                 uv_confidence_epsilon: float = 0.01,
                 point_weighting: bool = False) -> None:
        super().__init__()
        if uv_confidence not in (None, 'iid_iso', 'indep_aniso'):
            raise ValueError("uv_confidence must be None, 'iid_iso' or 'indep_aniso', got "
                             f'{uv_confidence!r}')
        self.part_weight = part_weight
        self.point_regression_weight = point_regression_weight
        self.segm_weight = segm_weight
        self.smooth_l1_beta = smooth_l1_beta
        self.loss_weight = loss_weight
        self.uv_confidence = uv_confidence
        self.uv_confidence_epsilon = float(uv_confidence_epsilon)
        self.point_weighting = bool(point_weighting)

    def _confidence_maps(self, pred: DensePoseChartPredictorOutput) -> list:
        names = ['sigma_2'] + (['kappa_u', 'kappa_v'] if self.uv_confidence == 'indep_aniso'
                               else [])
        maps = [getattr(pred, n) for n in names]
        missing = [n for n, m in zip(names, maps) if m is None]
        if missing:
            raise ValueError(f'DensePoseChartLoss(uv_confidence={self.uv_confidence!r}) needs '
                             f'the predictor outputs {missing}; set uv_confidence of the '
                             'predictor too')
        return maps

    def forward(self, pred: DensePoseChartPredictorOutput, proposals: Tensor, gt_bboxes: Tensor,
                gt_densepose: DensePoseTargets) -> Dict[str, Tensor]:
        """Compute the losses.

        Shape legend: ``M`` RoIs, ``H x W`` predictor output size.

        Args:
            pred (DensePoseChartPredictorOutput): Predictions for M RoIs.
            proposals (Tensor): (M, 4) xyxy proposals (input image frame).
            gt_bboxes (Tensor): (M, 4) xyxy GT boxes matched to each RoI.
            gt_densepose (DensePoseTargets): GT of the matched instances.

        Returns:
            dict[str, Tensor]: ``loss_densepose_{I,U,V,S}``, or
            ``loss_densepose_{I,UV,S}`` with ``uv_confidence``.
        """
        if len(pred) != len(proposals) or len(proposals) != len(gt_densepose):
            raise ValueError(f'DensePoseChartLoss got {len(pred)} predictions, '
                             f'{len(proposals)} proposals and {len(gt_densepose)} targets')
        w = self.loss_weight
        conf_maps = self._confidence_maps(pred) if self.uv_confidence else []
        roi_inds, pos, parts, uv_gt, var = _points_in_proposals(gt_densepose, gt_bboxes,
                                                                proposals)
        losses = {}
        if len(roi_inds) > 0:
            weight = inverse_variance_weights(var) if self.point_weighting else None
            fine = sample_bilinear(pred.fine_segm, roi_inds, pos[:, 0], pos[:, 1])
            loss_i = F.cross_entropy(fine, parts)
            sel = parts[:, None]

            def at_points(maps: Tensor) -> Tensor:
                return sample_bilinear(maps, roi_inds, pos[:, 0], pos[:, 1]).gather(1, sel)[:, 0]

            u_est, v_est = at_points(pred.u), at_points(pred.v)
            if self.uv_confidence:
                per_point = [gaussian_uv_nll(u_est - uv_gt[:, 0], v_est - uv_gt[:, 1],
                                             *[at_points(m) for m in conf_maps],
                                             epsilon=self.uv_confidence_epsilon)]
            else:
                per_point = [
                    F.smooth_l1_loss(est, gt, beta=self.smooth_l1_beta, reduction='none')
                    for est, gt in ((u_est, uv_gt[:, 0]), (v_est, uv_gt[:, 1]))
                ]
            uv_terms = [(p if weight is None else p * weight).sum() for p in per_point]
        else:
            # No GT point in any proposal: zero losses that keep the graph.
            loss_i = pred.fine_segm.sum() * 0
            if self.uv_confidence:
                uv_terms = [(pred.u.sum() + pred.v.sum() + sum(m.sum() for m in conf_maps)) * 0]
            else:
                uv_terms = [pred.u.sum() * 0, pred.v.sum() * 0]
        losses['loss_densepose_I'] = loss_i * self.part_weight * w
        names = ['loss_densepose_UV'] if self.uv_confidence else ['loss_densepose_U',
                                                                  'loss_densepose_V']
        for name, term in zip(names, uv_terms):
            losses[name] = term * self.point_regression_weight * w

        has_segm = gt_densepose.has_segm.to(proposals.device)
        if bool(has_segm.any()):
            coarse = pred.coarse_segm[has_segm]
            segms = gt_densepose.segms[has_segm.to(gt_densepose.segms.device)]
            target = gt_segm_in_proposals(segms, gt_bboxes[has_segm], proposals[has_segm],
                                          tuple(coarse.shape[-2:]))
            if coarse.size(1) == 2:
                target = (target > 0).long()
            loss_s = F.cross_entropy(coarse, target)
        else:
            loss_s = pred.coarse_segm.sum() * 0
        losses['loss_densepose_S'] = loss_s * self.segm_weight * w
        return losses
