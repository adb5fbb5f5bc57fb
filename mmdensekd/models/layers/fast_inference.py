# Copyright (c) mmdensekd contributors. All rights reserved.
"""Inference-time model transforms: reduced-precision autocast, BatchNorm
folding, channels-last memory format and the fast CPU RoIAlign swap.

None of these changes the parameters a checkpoint holds except
:func:`fuse_batch_norms`, which rewrites convolutions in place and removes
the BatchNorm layers: apply it only to a model in eval mode that will not be
trained or saved afterwards.
"""
import contextlib
from typing import Any, ContextManager, Dict, Optional, Union

import torch
from mmcv.cnn import fuse_conv_bn
from mmcv.ops import RoIAlign
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .roi_align import FastRoIAlign

#: Accepted names of the inference dtypes -> torch dtype (None = float32).
INFERENCE_DTYPES: Dict[str, Optional[torch.dtype]] = {
    'fp32': None, 'float32': None, 'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16,
    'fp16': torch.float16, 'float16': torch.float16
}


def resolve_inference_dtype(name: Union[None, str, torch.dtype]) -> Optional[torch.dtype]:
    """The autocast dtype of an inference dtype name.

    Args:
        name (str | torch.dtype | None): ``'fp32'``/``'float32'``/None (full
            precision), ``'bf16'``/``'bfloat16'`` or ``'fp16'``/``'float16'``.

    Returns:
        torch.dtype | None: ``torch.bfloat16``, ``torch.float16`` or None
        for float32.

    Raises:
        ValueError: An unknown name.
    """
    if name is None or name == torch.float32:
        return None
    if isinstance(name, torch.dtype):
        if name in (torch.bfloat16, torch.float16):
            return name
        raise ValueError(f'inference_dtype must be float32, bfloat16 or float16, got {name}')
    key = str(name).lower()
    if key not in INFERENCE_DTYPES:
        raise ValueError(f'inference_dtype must be one of {sorted(INFERENCE_DTYPES)}, '
                         f'got {name!r}')
    return INFERENCE_DTYPES[key]


def inference_autocast(device_type: str, dtype: Optional[torch.dtype]) -> ContextManager:
    """``torch.autocast`` for ``dtype`` on ``device_type``, or a no-op for
    float32 (None).

    Convolutions, linear layers and matrix products run in ``dtype``; ops
    outside autocast's lists (element-wise, interpolation, NMS) keep the
    dtype of their inputs.

    Args:
        device_type (str): ``'cpu'`` or ``'cuda'``.
        dtype (torch.dtype | None): From :func:`resolve_inference_dtype`.

    Returns:
        ContextManager: The autocast context.
    """
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=dtype)


def cast_floats(obj: Any, dtype: torch.dtype = torch.float32) -> Any:
    """Cast the floating-point tensors in ``obj`` (tensors, tuples, lists,
    dicts and objects with a ``to(dtype)`` method such as
    :class:`~mmdensekd.structures.DensePoseChartPredictorOutput`) to
    ``dtype``; everything else is returned unchanged."""
    if isinstance(obj, torch.Tensor):
        return obj.to(dtype) if obj.is_floating_point() and obj.dtype != dtype else obj
    if isinstance(obj, tuple):
        return type(obj)(*[cast_floats(o, dtype) for o in obj]) if hasattr(obj, '_fields') \
            else tuple(cast_floats(o, dtype) for o in obj)
    if isinstance(obj, list):
        return [cast_floats(o, dtype) for o in obj]
    if isinstance(obj, dict):
        return {k: cast_floats(v, dtype) for k, v in obj.items()}
    if hasattr(obj, 'to') and hasattr(obj, '__dataclass_fields__'):
        return obj.to(dtype)
    return obj


def fuse_batch_norms(module: nn.Module) -> int:
    """Fold eval-mode BatchNorm layers into the convolutions before them.

    Uses mmcv's ``fuse_conv_bn`` (a BatchNorm child is folded into the last
    ``Conv2d`` child registered before it, and replaced by ``nn.Identity``),
    which matches the data flow of mmdet's ResNet/ResNeXt blocks and stems,
    and of ``Sequential`` conv-BN stacks.

    Args:
        module (nn.Module): A module in eval mode (its BatchNorm layers use
            running statistics).

    Returns:
        int: Number of BatchNorm layers folded.

    Raises:
        RuntimeError: A BatchNorm layer is in training mode.
    """
    training = [n for n, m in module.named_modules() if isinstance(m, _BatchNorm) and m.training]
    if training:
        raise RuntimeError(f'fuse_batch_norms needs eval-mode BatchNorm; in training mode: '
                           f'{training[:3]}{" ..." if len(training) > 3 else ""}')
    before = sum(isinstance(m, _BatchNorm) for m in module.modules())
    fuse_conv_bn(module)
    return before - sum(isinstance(m, _BatchNorm) for m in module.modules())


def convert_to_channels_last(model: nn.Module) -> nn.Module:
    """Store 4-D parameters channels-last (NHWC) and make models that know
    the flag (``DensePoseRCNN.channels_last``) feed channels-last inputs.

    Args:
        model (nn.Module): The model.

    Returns:
        nn.Module: The same model.
    """
    model.to(memory_format=torch.channels_last)
    for m in model.modules():
        if hasattr(m, 'channels_last') and isinstance(getattr(m, 'channels_last'), bool):
            m.channels_last = True
    return model


def swap_roi_align(module: nn.Module) -> int:
    """Replace mmcv ``RoIAlign`` layers by :class:`FastRoIAlign` (same
    arguments; the vectorised kernel on CPU, mmcv's elsewhere).

    Args:
        module (nn.Module): Any module, e.g. a detector or an RoI extractor.

    Returns:
        int: Number of layers replaced.
    """
    count = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if type(child) is RoIAlign:
                setattr(parent, name, FastRoIAlign.from_roi_align(child))
                count += 1
    return count


def optimize_for_inference(model: nn.Module,
                           inference_dtype: Union[None, str, torch.dtype] = None,
                           fuse_bn: bool = True,
                           channels_last: bool = False,
                           fast_roi_align: bool = True) -> Dict[str, object]:
    """Apply the inference transforms to a model in eval mode.

    Args:
        model (nn.Module): The model (switched to eval mode).
        inference_dtype (str | torch.dtype, optional): Autocast dtype for
            models with ``set_inference_dtype`` (``DensePoseRCNN``); None
            keeps the model's setting.
        fuse_bn (bool): Fold BatchNorm into convolutions. Defaults to True.
        channels_last (bool): Channels-last parameters and inputs.
        fast_roi_align (bool): Swap in :class:`FastRoIAlign`.

    Returns:
        dict: What was done: ``fused_bn``, ``swapped_roi_align`` (counts),
        ``channels_last`` and ``inference_dtype``.
    """
    model.eval()
    summary: Dict[str, object] = dict(fused_bn=0, swapped_roi_align=0,
                                      channels_last=channels_last, inference_dtype=None)
    if inference_dtype is not None:
        setters = [m for m in model.modules() if hasattr(m, 'set_inference_dtype')]
        if not setters:
            raise TypeError(f'{type(model).__name__} has no module with set_inference_dtype '
                            '(needs a DensePoseRCNN)')
        for m in setters:
            m.set_inference_dtype(inference_dtype)
        summary['inference_dtype'] = str(inference_dtype)
    if fuse_bn:
        summary['fused_bn'] = fuse_batch_norms(model)
    if fast_roi_align:
        summary['swapped_roi_align'] = swap_roi_align(model)
    if channels_last:
        convert_to_channels_last(model)
    return summary


def prediction_agreement(ref: Any, test: Any, iou_thr: float = 0.9) -> Dict[str, float]:
    """How well two sets of predictions of one image agree (e.g. float32 vs
    bf16 inference).

    Detections are matched greedily in the order of ``ref`` (highest score
    first) to the closest (smallest largest-coordinate difference) unmatched
    ``test`` detection among those with IoU >= ``iou_thr``, so that a box
    finds its own counterpart among near-duplicates; a detection whose
    counterpart fell out of the other set (a rank change at the
    ``max_per_img`` cut-off) stays unmatched.
    DensePose charts of a matched pair are compared on their common
    top-left ``min(h) x min(w)`` box pixels.

    Args:
        ref (InstanceData): Reference ``pred_instances`` (``bboxes``,
            ``scores``, optional ``densepose``).
        test (InstanceData): The predictions to check.
        iou_thr (float): Minimum IoU of a match. Defaults to 0.9.

    Returns:
        dict[str, float]: ``num_ref``, ``num_test``, ``matched``,
        ``max_box_dev`` (largest coordinate difference of matched boxes,
        pixels), ``within_1px`` (matched pairs whose coordinates differ by
        at most one pixel), and with DensePose ``label_agreement`` (fraction of equal
        part labels over the compared pixels), ``uv_mad`` (mean |U, V|
        difference over compared pixels whose labels agree and are
        foreground) and ``uv_mad_all`` (over all compared pixels).
    """
    from mmdet.structures.bbox import bbox_overlaps
    rb, tb = ref.bboxes.float().cpu(), test.bboxes.float().cpu()
    order = torch.argsort(ref.scores.float().cpu(), descending=True)
    pairs = []
    if len(rb) and len(tb):
        iou = bbox_overlaps(rb, tb)
        taken = torch.zeros(len(tb), dtype=torch.bool)
        dev = (rb[:, None] - tb[None]).abs().amax(dim=-1)
        for i in order.tolist():
            cost = dev[i].masked_fill(taken | (iou[i] < iou_thr), float('inf'))
            j = int(cost.argmin())
            if cost[j] < float('inf'):
                taken[j] = True
                pairs.append((i, j))
    out: Dict[str, float] = dict(num_ref=float(len(rb)), num_test=float(len(tb)),
                                 matched=float(len(pairs)), max_box_dev=0.0, within_1px=0.0)
    if pairs:
        i, j = map(list, zip(*pairs))
        devs = (rb[i] - tb[j]).abs().amax(dim=-1)
        out['max_box_dev'] = float(devs.max())
        out['within_1px'] = float((devs <= 1.0).sum())
    if 'densepose' not in ref or 'densepose' not in test:
        return out
    equal = total = 0
    uv_sum = uv_count = uv_all = 0.0
    for i, j in pairs:
        lr, lt = ref.densepose.labels[i].cpu(), test.densepose.labels[j].cpu()
        h, w = min(lr.shape[0], lt.shape[0]), min(lr.shape[1], lt.shape[1])
        lr, lt = lr[:h, :w], lt[:h, :w]
        diff = (ref.densepose.uv[i].cpu()[:, :h, :w].float() -
                test.densepose.uv[j].cpu()[:, :h, :w].float()).abs()
        same = lr == lt
        fg = same & (lr > 0)
        equal += int(same.sum())
        total += h * w
        uv_sum += float(diff[:, fg].sum())
        uv_count += 2 * int(fg.sum())
        uv_all += float(diff.sum())
    out['label_agreement'] = equal / total if total else 1.0
    out['uv_mad'] = uv_sum / uv_count if uv_count else 0.0
    out['uv_mad_all'] = uv_all / (2 * total) if total else 0.0
    return out
