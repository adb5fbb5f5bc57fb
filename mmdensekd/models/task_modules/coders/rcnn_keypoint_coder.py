# Copyright (c) mmdensekd contributors. All rights reserved.
"""Keypoint R-CNN coder: keypoints <-> cells of a per-RoI heatmap grid.

Shape legend used below:

* ``M``: number of RoIs (proposals or detections)
* ``K``: number of keypoints
* ``H``, ``W``: heatmap grid height / width (56 x 56 for Keypoint R-CNN)
"""
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpose.codecs.utils import refine_keypoints_dark, refine_keypoints_dark_udp
from torch import Tensor

from mmdensekd.registry import TASK_UTILS


def _check_rank(tensor: Tensor, name: str, ndim: int) -> Tensor:
    tensor = torch.as_tensor(tensor)
    if tensor.dim() != ndim:
        raise ValueError(f'`{name}` must have {ndim} dimensions, got shape '
                         f'{tuple(tensor.shape)}')
    return tensor


@TASK_UTILS.register_module()
class RCNNKeypointCoder:
    """Encode keypoints as one cell index per RoI and decode RoI heatmaps.

    A torch-in / torch-out coder for RoI heads, with the contract of mmdet's
    box coders (``DeltaXYWHBBoxCoder``): :meth:`encode` turns ground truth
    and RoIs into training targets, :meth:`decode` turns predictions and
    boxes into keypoints in the boxes' frame.

    Keypoint R-CNN (He et al., 2017) trains a ``K``-way spatial softmax over
    the ``H x W`` cells of each RoI, so a target is the index of the cell that
    holds the ground-truth keypoint. Encoding (the default, pixel-centre
    convention) maps ``x`` to ``floor((x - x0) * W / w)`` with a keypoint
    exactly on the right (bottom) border mapped to the last cell; a keypoint
    that is not visible or lies outside the RoI gets weight 0.

    Decoding follows Keypoint R-CNN by default: each heatmap is resized
    (bicubic) to the ceil of its box size, the argmax gives the pixel and
    ``x = x0 + (ix + 0.5) * w / ceil(w)``; the score is the resized logit at
    the argmax. Two optional refinements reuse mmpose's codec utilities:

    * ``use_dark=True``: argmax on the ``H x W`` grid refined to sub-cell
      precision with DARK (Zhang et al., 2020) on the softmax probability,
      mapped back with the pixel-centre convention
      ``x = x0 + (x_hm + 0.5) * w / W``.
    * ``use_udp=True``: the unbiased (corner-aligned) convention of UDP
      (Huang et al., 2020) for both directions, ``x_hm = (x - x0) * (W - 1) /
      w`` rounded to the nearest cell when encoding, and ``x = x0 + x_hm * w /
      (W - 1)`` when decoding; with ``use_dark`` the sub-cell refinement is
      DARK-UDP.

    Args:
        heatmap_size (tuple[int, int]): Grid size ``(W, H)`` (mmpose order).
            Defaults to ``(56, 56)``.
        use_dark (bool): Refine the argmax with DARK. Defaults to ``False``.
        use_udp (bool): Use the unbiased UDP coordinate convention. Defaults
            to ``False``.
        blur_kernel_size (int): Odd Gaussian kernel size of the DARK
            modulation. Defaults to 3 (the spatial softmax of a CE-trained
            head is much sharper than a regression heatmap).
        resize_mode (str): Interpolation used to resize heatmaps to the box
            (``'bicubic'`` or ``'bilinear'``). Defaults to ``'bicubic'``.
        max_resize_elements (int): Upper bound on the number of floats of one
            vectorised resize chunk. Defaults to ``2**25``.
    """

    def __init__(self,
                 heatmap_size: Tuple[int, int] = (56, 56),
                 use_dark: bool = False,
                 use_udp: bool = False,
                 blur_kernel_size: int = 3,
                 resize_mode: str = 'bicubic',
                 max_resize_elements: int = 2**25) -> None:
        if (len(heatmap_size) != 2 or min(heatmap_size) < 2
                or any(int(s) != s for s in heatmap_size)):
            raise ValueError('`heatmap_size` must be two integers >= 2 (W, H), '
                             f'got {heatmap_size}')
        if blur_kernel_size < 1 or blur_kernel_size % 2 != 1:
            raise ValueError('`blur_kernel_size` must be a positive odd '
                             f'integer, got {blur_kernel_size}')
        if resize_mode not in ('bicubic', 'bilinear'):
            raise ValueError("`resize_mode` must be 'bicubic' or 'bilinear', "
                             f'got {resize_mode!r}')
        if max_resize_elements < 1:
            raise ValueError('`max_resize_elements` must be positive, got '
                             f'{max_resize_elements}')
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.use_dark = bool(use_dark)
        self.use_udp = bool(use_udp)
        self.blur_kernel_size = int(blur_kernel_size)
        self.resize_mode = resize_mode
        self.max_resize_elements = int(max_resize_elements)

    # ------------------------------------------------------------------ encode
    def encode(self, keypoints: Tensor, visible: Tensor, rois: Tensor) -> Tuple[Tensor, Tensor]:
        """Encode keypoints into cell indices of each RoI's grid.

        Args:
            keypoints (Tensor): ``(M, K, 2)`` keypoint ``(x, y)`` in the frame
                of the RoIs.
            visible (Tensor): ``(M, K)`` visibility; a value ``> 0`` means
                labelled.
            rois (Tensor): ``(M, 4)`` RoIs as ``(x0, y0, x1, y1)``.

        Returns:
            tuple[Tensor, Tensor]: ``(M, K)`` long cell indices ``iy * W + ix``
            (0 where the weight is 0) and ``(M, K)`` float weights, 1 for a
            visible keypoint inside its RoI, else 0.
        """
        keypoints = _check_rank(keypoints, 'keypoints', 3).float()
        rois = _check_rank(rois, 'rois', 2).to(keypoints)
        num_rois, num_kpts = keypoints.shape[:2]
        if keypoints.shape[-1] < 2 or rois.shape != (num_rois, 4):
            raise ValueError('expected keypoints (M, K, 2) and rois (M, 4), got '
                             f'{tuple(keypoints.shape)} and {tuple(rois.shape)}')
        visible = _check_rank(visible, 'visible', 2)
        if visible.shape != (num_rois, num_kpts):
            raise ValueError(f'`visible` must have shape {(num_rois, num_kpts)}, got '
                             f'{tuple(visible.shape)}')
        visible = visible.to(keypoints.device) > 0

        W, H = self.heatmap_size
        x, y = keypoints[..., 0], keypoints[..., 1]
        x0, y0 = rois[:, 0:1], rois[:, 1:2]
        x1, y1 = rois[:, 2:3], rois[:, 3:4]
        # Degenerate RoIs get no targets instead of dividing by zero.
        widths = (x1 - x0).clamp(min=1e-6)
        heights = (y1 - y0).clamp(min=1e-6)
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        inside &= ((x1 - x0) > 0) & ((y1 - y0) > 0)

        if self.use_udp:
            ix = torch.floor((x - x0) * (W - 1) / widths + 0.5)
            iy = torch.floor((y - y0) * (H - 1) / heights + 0.5)
        else:
            ix = torch.floor((x - x0) * W / widths)
            iy = torch.floor((y - y0) * H / heights)
            # a keypoint exactly on the far border belongs to the last cell
            ix = torch.where(x == x1, torch.full_like(ix, W - 1), ix)
            iy = torch.where(y == y1, torch.full_like(iy, H - 1), iy)
        ix = ix.clamp(0, W - 1).long()
        iy = iy.clamp(0, H - 1).long()

        valid = visible & inside
        labels = torch.where(valid, iy * W + ix, torch.zeros_like(ix))
        return labels, valid.float()

    # ------------------------------------------------------------------ decode
    def decode(self, heatmaps: Tensor, boxes: Tensor) -> Tuple[Tensor, Tensor]:
        """Decode RoI heatmap logits into keypoints in the frame of ``boxes``.

        Args:
            heatmaps (Tensor): ``(M, K, H, W)`` heatmap logits.
            boxes (Tensor): ``(M, 4)`` boxes ``(x0, y0, x1, y1)`` the heatmaps
                were pooled from.

        Returns:
            tuple[Tensor, Tensor]: keypoints ``(M, K, 2)`` float ``(x, y)``
            and scores ``(M, K)``, the logit at the argmax.
        """
        heatmaps = _check_rank(heatmaps, 'heatmaps', 4).detach().float()
        boxes = _check_rank(boxes, 'boxes', 2).to(heatmaps)
        num_rois, num_kpts = heatmaps.shape[:2]
        if boxes.shape != (num_rois, 4):
            raise ValueError(f'`boxes` must have shape {(num_rois, 4)}, got '
                             f'{tuple(boxes.shape)}')
        if num_rois == 0:
            return heatmaps.new_zeros((0, num_kpts, 2)), heatmaps.new_zeros((0, num_kpts))
        if self.use_dark or self.use_udp:
            return self._decode_on_grid(heatmaps, boxes)
        return self._decode_resized(heatmaps, boxes)

    def _decode_resized(self, heatmaps: Tensor, boxes: Tensor) -> Tuple[Tensor, Tensor]:
        """Keypoint R-CNN decoding: resize to the box, argmax in pixels.

        The per-box resize is one ``grid_sample`` per chunk of RoIs padded to
        the largest box of the batch (equal to ``F.interpolate`` with
        ``align_corners=False``); the padding is masked out of the argmax.
        """
        num_rois, num_kpts, H, W = heatmaps.shape
        widths = (boxes[:, 2] - boxes[:, 0]).clamp(min=1)
        heights = (boxes[:, 3] - boxes[:, 1]).clamp(min=1)
        widths_ceil = widths.ceil()
        heights_ceil = heights.ceil()
        out_w = int(widths_ceil.max().item())
        out_h = int(heights_ceil.max().item())

        cols = torch.arange(out_w, device=heatmaps.device, dtype=heatmaps.dtype)
        rows = torch.arange(out_h, device=heatmaps.device, dtype=heatmaps.dtype)
        per_roi = num_kpts * out_h * out_w
        chunk = max(1, self.max_resize_elements // max(per_roi, 1))

        keypoints, scores = [], []
        for start in range(0, num_rois, chunk):
            sl = slice(start, start + chunk)
            wc, hc = widths_ceil[sl], heights_ceil[sl]
            # normalised sampling positions of the output pixel centres
            gx = (cols[None] + 0.5) / wc[:, None] * 2 - 1  # (m, out_w)
            gy = (rows[None] + 0.5) / hc[:, None] * 2 - 1  # (m, out_h)
            m = gx.shape[0]
            grid = torch.stack(
                (gx[:, None, :].expand(m, out_h, out_w),
                 gy[:, :, None].expand(m, out_h, out_w)), dim=-1)
            resized = F.grid_sample(
                heatmaps[sl], grid, mode=self.resize_mode, padding_mode='border',
                align_corners=False)  # (m, K, out_h, out_w)
            pad = (cols[None, None, :] >= wc[:, None, None]) | (
                rows[None, :, None] >= hc[:, None, None])  # (m, out_h, out_w)
            resized = resized.masked_fill(pad[:, None], float('-inf'))
            best, index = resized.flatten(2).max(dim=2)  # (m, K)
            ix = (index % out_w).to(heatmaps.dtype)
            iy = torch.div(index, out_w, rounding_mode='floor').to(heatmaps.dtype)
            x = boxes[sl, 0:1] + (ix + 0.5) * (widths[sl] / wc)[:, None]
            y = boxes[sl, 1:2] + (iy + 0.5) * (heights[sl] / hc)[:, None]
            keypoints.append(torch.stack((x, y), dim=-1))
            scores.append(best)
        return torch.cat(keypoints), torch.cat(scores)

    def _decode_on_grid(self, heatmaps: Tensor, boxes: Tensor) -> Tuple[Tensor, Tensor]:
        """Argmax on the grid, optional DARK / DARK-UDP, then map to the box."""
        num_rois, num_kpts, H, W = heatmaps.shape
        flat = heatmaps.flatten(2)
        best, index = flat.max(dim=2)  # (M, K)
        locs = torch.stack(
            ((index % W).float(), torch.div(index, W, rounding_mode='floor').float()),
            dim=-1)  # (M, K, 2) in heatmap cells

        if self.use_dark:
            # DARK works on a Gaussian-like, non-negative map: the spatial
            # softmax the head was trained with, rescaled so its peak is 1.
            probs = flat.softmax(dim=2)
            probs = probs / probs.amax(dim=2, keepdim=True)
            maps = probs.reshape(num_rois * num_kpts, H, W).cpu().numpy().astype(np.float32)
            locs_np = locs.reshape(1, num_rois * num_kpts, 2).cpu().numpy().astype(np.float32)
            if self.use_udp:
                locs_np = refine_keypoints_dark_udp(locs_np, maps, self.blur_kernel_size)
            else:
                locs_np = refine_keypoints_dark(locs_np, maps, self.blur_kernel_size)
            refined = torch.from_numpy(np.ascontiguousarray(locs_np)).to(heatmaps)
            refined = refined.reshape(num_rois, num_kpts, 2)
            # keep refinements that stay within one cell of the argmax
            ok = torch.isfinite(refined).all(-1) & ((refined - locs).abs() <= 1).all(-1)
            locs = torch.where(ok[..., None], refined, locs)

        widths = (boxes[:, 2] - boxes[:, 0]).clamp(min=1)[:, None]
        heights = (boxes[:, 3] - boxes[:, 1]).clamp(min=1)[:, None]
        if self.use_udp:
            x = boxes[:, 0:1] + locs[..., 0] * widths / (W - 1)
            y = boxes[:, 1:2] + locs[..., 1] * heights / (H - 1)
        else:
            x = boxes[:, 0:1] + (locs[..., 0] + 0.5) * widths / W
            y = boxes[:, 1:2] + (locs[..., 1] + 0.5) * heights / H
        return torch.stack((x, y), dim=-1), best

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(heatmap_size={self.heatmap_size}, '
                f'use_dark={self.use_dark}, use_udp={self.use_udp}, '
                f'blur_kernel_size={self.blur_kernel_size}, resize_mode={self.resize_mode!r})')
