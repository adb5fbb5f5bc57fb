# Copyright (c) mmdensekd contributors. All rights reserved.
"""A vectorised CPU RoIAlign equal to mmcv's ``RoIAlign`` (average mode).

mmcv's CPU kernel visits every (RoI, channel, bin, sample) in scalar C++ on
one thread. RoIAlign is linear in the features, and its bilinear weights are
separable in y and x, so every output bin is a fixed weighted sum of a small
window of feature pixels. Here those weights are built for all RoIs at once
and applied as weighted sums of channels-last pixel rows
(``F.embedding_bag``, a vectorised and multi-threaded kernel).

The sampling rule is mmcv's / detectron2's (``aligned`` subtracts half a
pixel; without it RoIs are at least 1x1; ``sampling_ratio=0`` takes
``ceil(roi_size / output_size)`` samples per bin and RoI; samples beyond one
pixel outside the map are zero, samples within it are clamped to the border).
"""
from typing import List, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.ops import RoIAlign
from torch import Tensor

from mmdensekd.registry import MODELS

#: Upper bound on the pixel weights built at once (memory).
MAX_NNZ_PER_CHUNK = 1 << 22


def _pair(size: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def _axis_weights(start: Tensor, bin_size: Tensor, bins: int, grid: Tensor,
                  length: int) -> Tuple[Tensor, Tensor]:
    """Separable interpolation weights along one axis.

    Shape legend: ``R`` RoIs, ``P`` bins, ``L`` window length.

    Args:
        start (Tensor): (R,) RoI start in feature pixels.
        bin_size (Tensor): (R,) bin size in feature pixels.
        bins (int): Output bins ``P`` along the axis.
        grid (Tensor): (R,) int64 samples per bin along the axis (> 0).
        length (int): Feature map size along the axis.

    Returns:
        tuple[Tensor, Tensor]: ``index`` (R, P, L) int64 feature indices of
        each bin's window (clamped into the map) and ``weight`` (R, P, L),
        the bilinear weights averaged over the bin's samples (zero outside
        the window and for samples more than a pixel outside the map).
    """
    num = start.numel()
    most = int(grid.max())
    p = torch.arange(bins, dtype=start.dtype).view(1, bins, 1)
    i = torch.arange(most, dtype=start.dtype).view(1, 1, most)
    b = bin_size.view(num, 1, 1)
    g = grid.to(start.dtype).view(num, 1, 1)
    # Same operation order as mmcv: start + p * bin + (i + .5) * bin / grid.
    coord = start.view(num, 1, 1) + p * b + (i + 0.5) * b / g
    # RoIs with fewer samples than ``most``: the extra ones weigh nothing
    # and sit on the first sample (they do not widen the window).
    sampled = (i < g).expand_as(coord)
    coord = torch.where(sampled, coord, coord[..., :1])
    valid = (coord >= -1.0) & (coord <= length) & sampled
    coord = coord.clamp(min=0)
    low = coord.floor().long()
    at_end = low >= length - 1
    low = torch.where(at_end, torch.full_like(low, length - 1), low)
    high = torch.where(at_end, low, low + 1)
    coord = torch.where(at_end, low.to(coord.dtype), coord)
    frac = coord - low.to(coord.dtype)
    w_high = torch.where(valid, frac, torch.zeros_like(frac)) / g
    w_low = torch.where(valid, 1 - frac, torch.zeros_like(frac)) / g
    first = low.amin(dim=-1, keepdim=True)  # bins of negative size run backwards
    window = int((high - first).max().item()) + 1 if high.numel() else 1
    if window > 2 * most:
        # Sparse samples in wide bins: keep one entry per sample corner
        # (a repeated index is summed by the product) instead of the window.
        index = torch.stack((low, high), dim=-1).view(num, bins, 2 * most)
        weight = torch.stack((w_low, w_high), dim=-1).view(num, bins, 2 * most)
        return index, weight
    weight = coord.new_zeros((num, bins, window))
    weight.scatter_add_(2, low - first, w_low)
    weight.scatter_add_(2, high - first, w_high)
    index = (first + torch.arange(window).view(1, 1, window)).clamp(max=length - 1)
    return index, weight


def _group_weights(height: int, width: int, batch: Tensor, y0: Tensor, x0: Tensor,
                   bin_h: Tensor, bin_w: Tensor, out_size: Tuple[int, int],
                   grid: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Tensor]:
    """Sparse RoIAlign weights of RoIs with similar sampling grids.

    Shape legend: ``R`` RoIs, ``K`` entries per output bin.

    Args:
        height (int): Feature map height H.
        width (int): Feature map width W.
        batch (Tensor): (R,) int64 image index of each RoI.
        y0, x0, bin_h, bin_w (Tensor): (R,) RoI start and bin size.
        out_size (tuple[int, int]): Output bins (PH, PW).
        grid (tuple[Tensor, Tensor]): (R,) samples per bin (GH, GW), > 0.

    Returns:
        tuple[Tensor, Tensor]: ``cols`` (R * PH * PW, K) int64 pixel indices
        ``(b * H + y) * W + x`` (non-decreasing along K) and ``vals``
        (R * PH * PW, K) their weights; output bin = sum of vals x pixels.
    """
    (ph, pw), (gh, gw) = out_size, grid
    num = batch.numel()
    iy, wy = _axis_weights(y0, bin_h, ph, gh, height)
    ix, wx = _axis_weights(x0, bin_w, pw, gw, width)
    ly, lx = wy.size(2), wx.size(2)
    rows = (batch.view(num, 1, 1) * height + iy) * width
    cols = rows.view(num, ph, 1, ly, 1) + ix.view(num, 1, pw, 1, lx)
    vals = wy.view(num, ph, 1, ly, 1) * wx.view(num, 1, pw, 1, lx)
    return cols.reshape(num * ph * pw, ly * lx), vals.reshape(num * ph * pw, ly * lx)


def _channels_last_pixels(input: Tensor, cols: List[Tensor],
                          dtype: torch.dtype) -> Tuple[Tensor, List[Tensor]]:
    """The (P, C) pixels the weights read, and the columns re-indexed.

    A channels-last map is a free view; otherwise, when the RoIs touch
    less than half of the map, only their pixels are gathered (cheaper
    than transposing the whole map).
    """
    b, c, h, w = input.shape
    # the number of weights bounds the number of distinct pixels from above
    if (input.is_contiguous(memory_format=torch.channels_last) or not cols
            or sum(col.numel() for col in cols) * 2 > b * h * w):
        return input.permute(0, 2, 3, 1).to(dtype).reshape(b * h * w, c), cols
    used = torch.zeros(b * h * w, dtype=torch.bool)
    for col in cols:
        used[col.reshape(-1)] = True
    pixels = torch.nonzero(used, as_tuple=False)[:, 0]
    if pixels.numel() * 2 > used.numel():
        return input.permute(0, 2, 3, 1).to(dtype).reshape(b * h * w, c), cols
    remap = torch.cumsum(used, 0) - 1
    feats = input.reshape(b, c, h * w)[pixels // (h * w), :, pixels % (h * w)].to(dtype)
    return feats, [remap[col] for col in cols]


def roi_align_cpu(input: Tensor,
                  rois: Tensor,
                  output_size: Union[int, Tuple[int, int]],
                  spatial_scale: float = 1.0,
                  sampling_ratio: int = 0,
                  aligned: bool = True) -> Tensor:
    """Average RoIAlign, numerically equal to mmcv's ``roi_align``.

    Shape legend: ``B`` images, ``C`` channels, ``R`` RoIs.

    Args:
        input (Tensor): (B, C, H, W) features (any float dtype; computed in
            float32, or float64 for float64 input).
        rois (Tensor): (R, 5) ``(batch_idx, x1, y1, x2, y2)`` in image
            pixels.
        output_size (int | tuple[int, int]): Output (PH, PW).
        spatial_scale (float): Feature pixels per image pixel.
        sampling_ratio (int): Samples per bin and axis; 0 = adaptive
            ``ceil(roi_size / output_size)`` per RoI.
        aligned (bool): Shift sampling points by half a pixel (detectron2's
            ROIAlignV2).

    Returns:
        Tensor: (R, C, PH, PW) in the dtype of ``input`` (stored
        channels-last).
    """
    if input.dim() != 4:
        raise ValueError(f'roi_align_cpu: input must be (B, C, H, W), got {tuple(input.shape)}')
    if rois.dim() != 2 or rois.size(1) != 5:
        raise ValueError(f'roi_align_cpu: rois must be (R, 5), got {tuple(rois.shape)}')
    ph, pw = _pair(output_size)
    b, c, h, w = input.shape
    dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
    if rois.size(0) == 0 or h == 0 or w == 0:
        return input.new_zeros((rois.size(0), c, ph, pw))
    with torch.autocast(device_type='cpu', enabled=False):
        r = rois.to(dtype)
        offset = 0.5 if aligned else 0.0
        x0 = r[:, 1] * spatial_scale - offset
        y0 = r[:, 2] * spatial_scale - offset
        roi_w = r[:, 3] * spatial_scale - offset - x0
        roi_h = r[:, 4] * spatial_scale - offset - y0
        if not aligned:  # legacy: force malformed RoIs to be 1x1
            roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
        elif bool(((roi_w < 0) | (roi_h < 0)).any()):  # as mmcv's kernel
            bad = torch.nonzero((roi_w < 0) | (roi_h < 0), as_tuple=False)[:, 0].tolist()
            raise ValueError(f'roi_align_cpu: aligned RoIs must have a non-negative size; '
                             f'RoIs {bad[:5]} have x2 < x1 or y2 < y1')
        bin_h, bin_w = roi_h / ph, roi_w / pw
        if sampling_ratio > 0:
            gh = gw = torch.full((rois.size(0), ), sampling_ratio, dtype=torch.int64)
        else:
            # a (legacy) RoI of negative size has no sample, as in mmcv
            gh, gw = bin_h.ceil().long().clamp(min=0), bin_w.ceil().long().clamp(min=0)
        batch = r[:, 0].long()
        if bool(((batch < 0) | (batch >= b)).any()):
            raise ValueError(f'roi_align_cpu: RoI batch indices must be in [0, {b}), got '
                             f'{batch.unique().tolist()}')
        pieces, cols, vals = [], [], []
        for idx in _grid_groups(gh, gw):
            g_h, g_w = int(gh[idx].max()), int(gw[idx].max())
            per_roi = ph * pw * (min(int(bin_h[idx].max().ceil()) + 2, 2 * g_h) *
                                 min(int(bin_w[idx].max().ceil()) + 2, 2 * g_w))
            for chunk in idx.split(max(1, MAX_NNZ_PER_CHUNK // max(per_roi, 1))):
                col, val = _group_weights(h, w, batch[chunk], y0[chunk], x0[chunk],
                                          bin_h[chunk], bin_w[chunk], (ph, pw),
                                          (gh[chunk], gw[chunk]))
                pieces.append(chunk)
                cols.append(col)
                vals.append(val)
        feats, cols = _channels_last_pixels(input, cols, dtype)
        # (R, PH, PW, C); RoIs without samples stay zero
        done = sum(len(chunk) for chunk in pieces)
        out = (input.new_empty if done == rois.size(0) else input.new_zeros)(
            (rois.size(0), ph, pw, c), dtype=dtype)
        for chunk, col, val in zip(pieces, cols, vals):
            # weighted sum of K pixel rows per output bin (a fixed-size bag)
            res = F.embedding_bag(col, feats, per_sample_weights=val.to(dtype), mode='sum')
            if len(pieces) == 1 and done == rois.size(0):
                out = res.view(len(chunk), ph, pw, c)
            else:
                out.index_copy_(0, chunk, res.view(len(chunk), ph, pw, c))
    # a channels-last (R, C, PH, PW) view
    return out.permute(0, 3, 1, 2).to(input.dtype)


def _grid_groups(gh: Tensor, gw: Tensor) -> List[Tensor]:
    """Indices of the RoIs with samples, grouped by ``ceil(log2(grid))``
    per axis (a group pads its grids to its largest, at most 2x)."""
    has = (gh > 0) & (gw > 0)  # RoIs without samples stay zero
    octave_h = torch.log2(gh.clamp(min=1).double()).ceil().long()
    octave_w = torch.log2(gw.clamp(min=1).double()).ceil().long()
    key = torch.where(has, octave_h * 64 + octave_w, torch.full_like(gh, -1))
    return [torch.nonzero(key == k, as_tuple=False)[:, 0]
            for k in key.unique().tolist() if k >= 0]


@MODELS.register_module()
class FastRoIAlign(RoIAlign):
    """mmcv's ``RoIAlign`` with :func:`roi_align_cpu` on CPU tensors.

    Same arguments, attributes and outputs as :class:`mmcv.ops.RoIAlign`.
    Average pooling on CPU runs the vectorised kernel; max pooling and other
    devices run mmcv's kernel (in float32 for bfloat16 input, which mmcv's
    kernels do not take). Detectors swap it in with
    :meth:`from_roi_align` (no parameters, so checkpoints are unaffected).
    """

    @classmethod
    def from_roi_align(cls, layer: RoIAlign) -> 'FastRoIAlign':
        """The dispatching equivalent of an mmcv ``RoIAlign`` layer."""
        return cls(output_size=layer.output_size, spatial_scale=layer.spatial_scale,
                   sampling_ratio=layer.sampling_ratio, pool_mode=layer.pool_mode,
                   aligned=layer.aligned, use_torchvision=layer.use_torchvision)

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """(B, C, H, W) features, (R, 5) RoIs -> (R, C, PH, PW)."""
        if input.device.type == 'cpu' and self.pool_mode == 'avg':
            return roi_align_cpu(input, rois, self.output_size, self.spatial_scale,
                                 self.sampling_ratio, self.aligned)
        if input.dtype == torch.bfloat16:
            return super().forward(input.float(), rois.float()).to(input.dtype)
        return super().forward(input, rois.to(input.dtype))

