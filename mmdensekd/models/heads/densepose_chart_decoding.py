# Copyright (c) mmdensekd contributors. All rights reserved.
"""Per-pixel IUV of DensePose charts at each detected box, as detectron2
computes it, vectorised over boxes.

detectron2 (``converters/segm_to_mask.py`` and
``converters/chart_output_to_chart_result.py``) resizes the coarse and fine
scores of each RoI bilinearly (``align_corners=False``) to its integer box
``w = max(int(x1 - x0), 1)``, ``h = max(int(y1 - y0), 1)``, takes
``label = argmax(fine) * (argmax(coarse) > 0)`` there, and reads U, V from
the bilinearly resized U / V channel of that label, 0 on background, without
clamping. Per-part confidences are read the same way, one-channel ones are
resized as they are.

Here all pixels of all boxes are sampled at once (flattened): the four
corners and weights of PyTorch's bilinear interpolation at each pixel,
mixed along x then y (``lerp``; equal to ``F.interpolate`` up to float
rounding of the weights); the score maps are read at all channels (channels-last),
U, V and per-part confidences only at each pixel's label (bilinear
interpolation is linear per channel, so this is the value the full resize
would give). Chunks of boxes bound the memory (:data:`MAX_CHUNK_ELEMENTS`).

Shape legend: ``N`` boxes, ``C`` channels, ``H x W`` the predictor
resolution, ``h x w`` a box's size.
"""
from typing import Dict, List, Tuple

import torch
from torch import Tensor

from mmdensekd.structures import DensePoseChartPredictorOutput

#: Largest number of (pixel, channel) values one chunk of boxes samples at
#: once: 2**25 float32 values = 128 MiB per temporary.
MAX_CHUNK_ELEMENTS = 2**25


def box_sizes(boxes: Tensor) -> Tuple[Tensor, Tensor]:
    """Integer chart sizes of xyxy ``boxes`` as detectron2 computes them
    (float subtraction in the boxes' dtype, then truncation):
    ``h = max(int(y1 - y0), 1)``, ``w = max(int(x1 - x0), 1)``.

    Returns:
        tuple[Tensor, Tensor]: (N,) long heights and widths.
    """
    w = (boxes[:, 2] - boxes[:, 0]).long().clamp(min=1)
    h = (boxes[:, 3] - boxes[:, 1]).long().clamp(min=1)
    return h, w


def linear_source(in_size: int, out_size: Tensor, pos: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Source indices and weight of a 1-D bilinear resize
    (``align_corners=False``) from ``in_size`` to ``out_size`` at output
    positions ``pos``.

    Output position ``j`` reads ``x = max((j + 0.5) * in / out - 0.5, 0)``:
    ``i0 = min(floor(x), in - 1)``, ``i1 = i0 + 1`` (``i0`` at the border),
    weight ``l1 = x - i0`` of ``i1`` (PyTorch's rule, in float32).

    Args:
        in_size (int): Source length.
        out_size (Tensor): long target length of each position.
        pos (Tensor): long output positions, same shape.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``i0``, ``i1`` long and ``l1`` float32.
    """
    scale = float(in_size) / out_size.to(torch.float32)
    x = torch.addcmul(torch.full_like(scale, -0.5), scale, pos.to(torch.float32) + 0.5).clamp(min=0)
    i0 = x.long().clamp(max=in_size - 1)
    l1 = (x - i0.to(torch.float32)).clamp(0, 1)
    return i0, i0 + (i0 < in_size - 1).long(), l1


class _PixelSampler:
    """Bilinear samples of per-RoI maps at every pixel of the boxes of one
    chunk, pixels of all boxes flattened (box-major, then row-major).

    Args:
        rois (Tensor): (n,) long RoI of each box.
        h, w (Tensor): (n,) long box sizes.
        in_h, in_w (int): Map size.
    """

    def __init__(self, rois: Tensor, h: Tensor, w: Tensor, in_h: int, in_w: int) -> None:
        self.in_hw = in_h * in_w
        device = rois.device
        # per-row and per-column tables of all boxes (sum h + sum w entries)
        row_box = torch.repeat_interleave(torch.arange(len(rois), device=device), h)
        col_box = torch.repeat_interleave(torch.arange(len(rois), device=device), w)
        row_first = torch.cumsum(h, 0) - h
        col_first = torch.cumsum(w, 0) - w
        rows = torch.arange(len(row_box), device=device) - row_first[row_box]
        cols = torch.arange(len(col_box), device=device) - col_first[col_box]
        y0, y1, ly = linear_source(in_h, h[row_box], rows)
        x0, x1, lx = linear_source(in_w, w[col_box], cols)
        base = rois[row_box] * self.in_hw
        row0, row1 = base + y0 * in_w, base + y1 * in_w  # flat (roi, y) of each row
        # pixels of all boxes, box-major then row-major: (row, column) entries
        area = h * w
        box = torch.repeat_interleave(torch.arange(len(rois), device=device), area)
        k = torch.arange(len(box), device=device) - (torch.cumsum(area, 0) - area)[box]
        bw = w[box]
        row = row_first[box] + torch.div(k, bw, rounding_mode='floor')
        col = col_first[box] + k % bw
        cx0, cx1 = x0[col], x1[col]
        # flat (roi, y, x) index of the four corners: top-left, top-right,
        # bottom-left, bottom-right
        self.corners = [row0[row] + cx0, row0[row] + cx1, row1[row] + cx0, row1[row] + cx1]
        self.lx, self.ly = lx[col], ly[row]

    def subset(self, keep: Tensor) -> '_PixelSampler':
        """The sampler of the pixels ``keep`` (long indices) only."""
        out = object.__new__(_PixelSampler)
        out.in_hw = self.in_hw
        out.corners = [c[keep] for c in self.corners]
        out.lx, out.ly = self.lx[keep], self.ly[keep]
        return out

    def _mix(self, v00: Tensor, v01: Tensor, v10: Tensor, v11: Tensor) -> Tensor:
        # along x, then along y (PyTorch's order); lerp: one fused op each
        lx, ly = self.lx.to(v00.dtype), self.ly.to(v00.dtype)
        if v00.dim() == 2:
            lx, ly = lx[:, None], ly[:, None]
        return torch.lerp(torch.lerp(v00, v01, lx), torch.lerp(v10, v11, lx), ly)

    def all_channels(self, maps_hwc: Tensor) -> Tensor:
        """(P, C) samples of channels-last maps ``(N * H * W, C)``."""
        return self._mix(*[maps_hwc.index_select(0, c) for c in self.corners])

    def at_channel(self, maps: Tensor, channel: Tensor) -> Tensor:
        """(P,) samples of maps (N, C, H, W) at each pixel's ``channel``."""
        flat = maps.reshape(-1)
        roi = self.corners[0] // self.in_hw
        offset = (roi * (maps.size(1) - 1) + channel) * self.in_hw
        return self._mix(*[flat.index_select(0, c + offset) for c in self.corners])


def _chunks(area: Tensor, channels: int) -> List[Tensor]:
    """Consecutive box indices whose pixels x ``channels`` stay within
    :data:`MAX_CHUNK_ELEMENTS` (a single box always forms a chunk)."""
    chunks, current, total = [], [], 0
    for i, a in enumerate(area.tolist()):
        if current and (total + a) * channels > MAX_CHUNK_ELEMENTS:
            chunks.append(current)
            current, total = [], 0
        current.append(i)
        total += a
    if current:
        chunks.append(current)
    return [torch.as_tensor(c, dtype=torch.long) for c in chunks]


def decode_charts_to_boxes(
        dp_output: DensePoseChartPredictorOutput,
        boxes: Tensor) -> Tuple[List[Tensor], List[Tensor], Dict[str, List[Tensor]]]:
    """detectron2's per-pixel IUV (and confidences) of every box.

    Args:
        dp_output (DensePoseChartPredictorOutput): Outputs of ``N`` RoIs.
        boxes (Tensor): (N, 4) xyxy boxes in the frame of the results.

    Returns:
        tuple: ``labels`` (list of (h, w) uint8 in 0..24), ``uv`` (list of
        (2, h, w) float, unclamped, 0 on background) and ``confidences``
        (name -> list of (h, w) float, see
        :class:`~mmdensekd.structures.DensePoseChartResults`) in box order.
    """
    num = len(boxes)
    if len(dp_output) != num:
        raise ValueError(f'{num} boxes but DensePose outputs for {len(dp_output)} RoIs')
    conf = dp_output.confidences()
    conf.pop('sigma_1', None)
    if num == 0:
        return [], [], {k: [] for k in conf}
    in_h, in_w = dp_output.fine_segm.shape[-2:]
    parts = dp_output.fine_segm.size(1)
    h, w = box_sizes(boxes)
    # channels-last copies: one index_select reads all channels of a corner
    fine = dp_output.fine_segm.permute(0, 2, 3, 1).reshape(-1, parts)
    coarse = dp_output.coarse_segm.permute(0, 2, 3, 1).reshape(-1, dp_output.coarse_segm.size(1))
    labels, u, v = [], [], []
    confs: Dict[str, List[Tensor]] = {k: [] for k in conf}
    for idx in _chunks((h * w).cpu(), parts):
        idx = idx.to(boxes.device)
        sampler = _PixelSampler(idx, h[idx], w[idx], in_h, in_w)
        fg = torch.nonzero(sampler.all_channels(coarse).argmax(dim=1) > 0)[:, 0]
        on_fg = sampler.subset(fg)
        # the fine argmax, U, V and per-part confidences only matter on the
        # coarse foreground (0 elsewhere)
        lab = torch.zeros(len(sampler.lx), dtype=torch.long, device=boxes.device)
        lab[fg] = on_fg.all_channels(fine).argmax(dim=1)
        lab_fg = lab[fg]
        part = torch.nonzero(lab_fg > 0)[:, 0]
        on_part, lab_part, pix_part = on_fg.subset(part), lab_fg[part], fg[part]

        def per_part(maps: Tensor) -> Tensor:
            out = maps.new_zeros(len(lab))
            out[pix_part] = on_part.at_channel(maps, lab_part)
            return out

        labels.append(lab.to(torch.uint8))
        u.append(per_part(dp_output.u))
        v.append(per_part(dp_output.v))
        for name, maps in conf.items():
            if maps.size(1) == parts:
                confs[name].append(per_part(maps))
            else:  # one-channel (segmentation) confidences, everywhere
                confs[name].append(sampler.at_channel(maps, torch.zeros_like(lab)))
    sizes = (h * w).tolist()
    shapes = list(zip(h.tolist(), w.tolist()))

    def split(flat: List[Tensor]) -> List[Tensor]:
        return [m.view(s) for m, s in zip(torch.cat(flat).split(sizes), shapes)]

    uv = [torch.stack([a, b]) for a, b in zip(split(u), split(v))]
    return split(labels), uv, {k: split(maps) for k, maps in confs.items()}
