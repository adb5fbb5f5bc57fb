# Copyright (c) mmdensekd contributors. All rights reserved.
"""Per-pixel IUV of DensePose charts at each detected box, as detectron2
computes it.

detectron2 (``converters/segm_to_mask.py`` and
``converters/chart_output_to_chart_result.py``) resizes the coarse and fine
scores of each RoI bilinearly (``align_corners=False``) to its integer box
``w = max(int(x1 - x0), 1)``, ``h = max(int(y1 - y0), 1)``, takes
``label = argmax(fine) * (argmax(coarse) > 0)`` there, and reads U, V from
the bilinearly resized U / V channel of that label, 0 on background, without
clamping. Per-part confidences are read the same way, one-channel ones are
resized as they are.

Here the same resizes run with ``F.interpolate`` (PyTorch's vectorised,
multi-threaded kernel), one box at a time (the box sizes differ), on
channels-last maps (its channels-last kernel reads all channels of a source
pixel at once; a view when the predictor's output is channels-last
already); the argmax then reduces over contiguous channels. Scores equal
detectron2's NCHW resize up to float rounding (a label can differ only at
an exact tie of two parts). U, V and per-part confidences are resized only
when some pixel of the box has a part label.

Shape legend: ``N`` boxes, ``C`` channels, ``H x W`` the predictor
resolution, ``h x w`` a box's size.
"""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmdensekd.structures import DensePoseChartPredictorOutput


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


def _channels_last(maps: Tensor) -> Tensor:
    """(N, C, H, W) maps stored channels-last (no copy when they are)."""
    return maps.contiguous(memory_format=torch.channels_last)


def linear_source(in_size: int, out_size: int,
                  device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """Source indices and weight of a 1-D bilinear resize
    (``align_corners=False``) from ``in_size`` to ``out_size``, at every
    output position ``j``: ``x = max((j + 0.5) * in / out - 0.5, 0)``,
    ``i0 = min(floor(x), in - 1)``, ``i1 = i0 + 1`` (``i0`` at the border),
    weight ``l1 = x - i0`` of ``i1`` (PyTorch's rule, in float32).

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``i0``, ``i1`` long and ``l1`` float32,
        each (out_size,).
    """
    scale = float(in_size) / float(out_size)
    pos = torch.arange(out_size, device=device, dtype=torch.float32)
    x = ((pos + 0.5) * scale - 0.5).clamp(min=0)
    i0 = x.long().clamp(max=in_size - 1)
    l1 = (x - i0.to(torch.float32)).clamp(0, 1)
    return i0, i0 + (i0 < in_size - 1).long(), l1


class _LabelSampler:
    """Bilinear samples, at the part pixels of one box, of per-part maps
    resized to the box, each pixel at its label's channel (the four source
    corners of every pixel found once for all maps).

    Args:
        size (tuple[int, int]): Box size ``(h, w)``.
        in_h, in_w, channels (int): Map size and channels.
        pixels (Tensor): (P,) long flat indices of the part pixels.
        labels (Tensor): (P,) long labels there.
    """

    def __init__(self, size: Tuple[int, int], in_h: int, in_w: int, channels: int,
                 pixels: Tensor, labels: Tensor) -> None:
        y0, y1, ly = linear_source(in_h, size[0], pixels.device)
        x0, x1, lx = linear_source(in_w, size[1], pixels.device)
        row = torch.div(pixels, size[1], rounding_mode='floor')
        col = pixels - row * size[1]
        top, bottom = y0.index_select(0, row) * in_w, y1.index_select(0, row) * in_w
        left, right = x0.index_select(0, col), x1.index_select(0, col)
        # flat (y, x, channel) index of each corner in channels-last maps
        self.corners = [(y + x) * channels + labels
                        for y, x in ((top, left), (top, right), (bottom, left), (bottom, right))]
        self.lx, self.ly = lx.index_select(0, col), ly.index_select(0, row)

    def __call__(self, maps_hwc: Tensor) -> Tensor:
        """(P,) samples of one RoI's channels-last maps ``(H, W, C)``."""
        flat = maps_hwc.reshape(-1)
        v = [flat.take(c) for c in self.corners]
        lx, ly = self.lx.to(flat.dtype), self.ly.to(flat.dtype)
        return torch.lerp(torch.lerp(v[0], v[1], lx), torch.lerp(v[2], v[3], lx), ly)


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
    coarse, fine = _channels_last(dp_output.coarse_segm), _channels_last(dp_output.fine_segm)
    # U, V and per-part confidences: (N, H, W, C) views of channels-last maps
    per_part = {k: _channels_last(maps).permute(0, 2, 3, 1)
                for k, maps in [('u', dp_output.u), ('v', dp_output.v), *conf.items()]
                if maps.size(1) == parts}
    labels, uv = [], []
    confs: Dict[str, List[Tensor]] = {k: [] for k in conf}
    for i, size in enumerate(zip(h.tolist(), w.tolist())):

        def resize(maps: Tensor) -> Tensor:  # (1, C, h, w)
            return F.interpolate(maps[i:i + 1], size, mode='bilinear', align_corners=False)

        lab = (resize(fine).argmax(dim=1) * (resize(coarse).argmax(dim=1) > 0))[0]  # (h, w)
        flat_lab = lab.view(-1)
        pixels = torch.nonzero(flat_lab)[:, 0]
        sample = _LabelSampler(size, in_h, in_w, parts, pixels,
                               flat_lab.index_select(0, pixels)) if len(pixels) else None
        values = {}
        for name, maps in per_part.items():
            # the resized map at each part pixel's label, 0 elsewhere
            out = maps.new_zeros(size)
            if sample is not None:
                out.view(-1).index_copy_(0, pixels, sample(maps[i]))
            values[name] = out
        labels.append(lab.to(torch.uint8))
        uv.append(torch.stack([values['u'], values['v']]))
        for name, maps in conf.items():
            if name in values:
                confs[name].append(values[name])
            else:  # one-channel (segmentation) confidences, everywhere
                confs[name].append(resize(maps)[0, 0])
    return labels, uv, confs
