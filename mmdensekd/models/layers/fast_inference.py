# Copyright (c) mmdensekd contributors. All rights reserved.
"""Inference-time model transforms: reduced-precision autocast of a
two-stage detector's stages, BatchNorm folding, channels-last memory format,
the fast CPU RoIAlign swap and denormal flushing.

Autocast is installed as forward hooks on the detector's stage modules
(:class:`StageAutocast`), so the detector keeps mmdet's own ``predict``.

None of these changes the parameters a checkpoint holds except
:func:`fuse_batch_norms`, which rewrites convolutions in place and removes
the BatchNorm layers: apply it only to a model in eval mode that will not be
trained or saved afterwards.
"""
import contextlib
import copy
import statistics
import time
from typing import Any, Callable, ContextManager, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import fuse_conv_bn
from mmcv.ops import RoIAlign
from mmdet.models.roi_heads.roi_extractors import BaseRoIExtractor, SingleRoIExtractor
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


#: Stages of a two-stage detector that may run under autocast.
AUTOCAST_STAGES = ('backbone', 'neck', 'rpn_head', 'roi_head')
# layers whose weights run under autocast (the public conv classes; mmcv's
# convolutions subclass them)
WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                 nn.ConvTranspose3d, nn.Linear)


def _first_tensor(obj: Any) -> Optional[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (tuple, list)):
        for o in obj:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


class StageAutocast:
    """Forward hooks that run a two-stage detector's stages in its
    ``autocast_dtype`` (read at call time, with ``autocast_stages`` and
    ``channels_last``, from the detector's attributes).

    * ``backbone``, ``neck``: under autocast, outputs kept in the reduced
      dtype (the next convolutions take them as they are);
    * ``rpn_head``: under autocast, outputs cast back to float32 (box
      decoding and NMS run in float32);
    * ``roi_head``: every module of the RoI head with parameters other than
      the RoI extractors (box, DensePose, keypoint heads and predictors) runs
      under autocast, outputs cast back to float32 for decoding (an output
      that feeds another of them, e.g. the DensePose head's features, keeps
      the reduced dtype from the second image on); the RoI extractors' own
      networks (e.g. a DensePose decoder) run under autocast on the
      reduced-precision features; mmdet's ``SingleRoIExtractor``, which casts
      the RoIs to the features' dtype, pools from float32 features (each
      level cast once per image) so that RoI coordinates keep full
      precision.

    A stage left out of ``autocast_stages`` gets float32 inputs. Modules in
    training mode are left alone.

    With ``cast_weights`` (set by :func:`optimize_for_inference`) the
    weights and biases of the convolutions and linear layers that the first
    reduced-precision image ran under autocast (after the calibration) are
    stored in the reduced dtype from the second image on, so autocast no
    longer casts them at every call (same results); layers that run outside
    autocast keep float32 weights. The float32 tensors are kept and put back
    when the dtype changes (:func:`enable_stage_autocast`), a refusal by the
    calibration or a module in training mode. The hooks are bound methods of this
    object and its tables are keyed by module, so a deep copy of the
    detector carries hooks of its own.

    Args:
        detector (nn.Module): A module with ``backbone``, ``rpn_head`` and
            ``roi_head`` (and optional ``neck``).
    """

    def __init__(self, detector: nn.Module) -> None:
        self.detector = detector
        #: Compare the backbone in float32 and the reduced dtype on the
        #: first CPU image and keep float32 when it is faster.
        self.calibrate = True
        self.calibration: Optional[Dict[str, float]] = None
        #: Store conv / linear weights in the reduced dtype (see class doc).
        self.cast_weights = False
        self.weights_dtype: Optional[torch.dtype] = None
        self.fp32_weights: Dict[Tuple[nn.Module, str], torch.Tensor] = {}
        # (dtype, layers seen under autocast, hook handles) of the image
        # that finds the layers whose weights may be stored
        self._probe: Optional[tuple] = None
        self.contexts: Dict[nn.Module, list] = {}
        self.fp32_cache: Dict[int, torch.Tensor] = {}
        # RoI-head modules whose output feeds another autocast module (found
        # on the first image): their output keeps the reduced dtype
        self.feeds_autocast: set = set()
        self.cast_outputs: Dict[int, tuple] = {}  # id(fp32) -> (fp32, original, module)
        self.roles: Dict[nn.Module, tuple] = {}
        self.handles: List[Any] = []
        for stage in AUTOCAST_STAGES[:3]:
            module = getattr(detector, stage, None)
            if module is not None:
                self._add(module, stage, cast_output=stage == 'rpn_head')
        roi_head = getattr(detector, 'roi_head', None)
        for child in (roi_head.children() if roi_head is not None else ()):
            if isinstance(child, BaseRoIExtractor):
                nets = [sub for sub in child.children() if any(True for _ in sub.parameters())]
                if isinstance(child, SingleRoIExtractor) or not nets:
                    # mmdet's extractor casts the RoIs to the features' dtype
                    self.handles.append(child.register_forward_pre_hook(self._fp32_features))
                for sub in nets:  # e.g. a DensePose decoder: takes bf16 features as they are
                    self._add(sub, 'roi_head', cast_output=False)
            elif any(True for _ in child.parameters()):
                self._add(child, 'roi_head', cast_output=True)

    def _add(self, module: nn.Module, stage: str, cast_output: bool) -> None:
        self.roles[module] = (stage, cast_output)
        self.handles.append(module.register_forward_pre_hook(self._enter))
        self.handles.append(module.register_forward_hook(self._exit))

    def remove(self) -> None:
        """Remove the hooks."""
        for h in self.handles:
            h.remove()
        self.handles.clear()

    def _dtype(self, module: nn.Module, stage: str) -> Optional[torch.dtype]:
        det = self.detector
        if module.training or stage not in getattr(det, 'autocast_stages', AUTOCAST_STAGES):
            return None
        return getattr(det, 'autocast_dtype', None)

    def _weight_layers(self) -> List[nn.Module]:
        stages = getattr(self.detector, 'autocast_stages', AUTOCAST_STAGES)
        layers = []
        for module, (stage, _) in self.roles.items():
            if stage in stages:
                layers += [m for m in module.modules() if isinstance(m, WEIGHT_LAYERS)]
        return list(dict.fromkeys(layers))

    def store_weights(self, dtype: torch.dtype,
                      layers: Optional[Sequence[nn.Module]] = None) -> int:
        """Store the weights and biases of ``layers`` (default: every conv /
        linear layer of the autocast stages) in ``dtype`` (float32 originals
        kept); returns how many tensors."""
        self.restore_weights()
        count = 0
        for layer in (self._weight_layers() if layers is None else layers):
            for name in ('weight', 'bias'):
                param = getattr(layer, name, None)
                if isinstance(param, nn.Parameter) and param.dtype == torch.float32:
                    self.fp32_weights[(layer, name)] = param.data
                    param.data = param.data.to(dtype)  # memory format kept
                    count += 1
        self.weights_dtype = dtype
        return count

    def restore_weights(self) -> None:
        """Put back the float32 weights of :meth:`store_weights` (and stop
        a pending search for the layers to store)."""
        self._end_probe()
        for (layer, name), data in self.fp32_weights.items():
            getattr(layer, name).data = data
        self.fp32_weights.clear()
        self.weights_dtype = None

    def _start_probe(self, dtype: torch.dtype) -> None:
        # a bound method: a deep copy's layers report to the copy
        handles = [layer.register_forward_pre_hook(self._under_autocast)
                   for layer in self._weight_layers()]
        self._probe = (dtype, set(), handles)

    def _under_autocast(self, layer: nn.Module, args: tuple) -> None:
        t = _first_tensor(args)
        if self._probe is not None and t is not None \
                and torch.is_autocast_enabled(t.device.type):
            self._probe[1].add(layer)

    def _end_probe(self) -> Optional[tuple]:
        probe, self._probe = self._probe, None
        for h in (probe[2] if probe else ()):
            h.remove()
        return probe

    def _update_weights(self) -> None:
        """At the start of an image in eval mode: store the weights found by
        the previous image's probe, or start a probe."""
        dtype = getattr(self.detector, 'autocast_dtype', None)
        if not self.cast_weights or dtype is None or self.weights_dtype == dtype:
            return
        probe = self._end_probe()
        if probe is not None and probe[0] == dtype:
            layers = [m for m in self._weight_layers() if m in probe[1]]
            self.store_weights(dtype, layers)
            self.weights_dtype = dtype
        else:
            self._start_probe(dtype)

    def _enter(self, module: nn.Module, args: tuple):
        stage, _ = self.roles.get(module, ('', False))
        target = getattr(self.detector, 'autocast_dtype', None)
        if (self.weights_dtype is not None or self._probe is not None) and (
                module.training or target is None
                or self.weights_dtype not in (None, target)):
            self.restore_weights()  # training and float32 need the float32 weights
        if stage == 'backbone':
            self.fp32_cache.clear()  # a new image batch
            self.cast_outputs.clear()
            if not module.training and (not self.calibrate or self.calibration is not None):
                self._update_weights()
            if getattr(self.detector, 'channels_last', False) and not module.training:
                args = tuple(a.contiguous(memory_format=torch.channels_last)
                             if isinstance(a, torch.Tensor) and a.dim() == 4 else a
                             for a in args)
        dtype = self._dtype(module, stage)
        tensor = _first_tensor(args)
        if (stage == 'backbone' and dtype is not None and self.calibrate
                and self.calibration is None and tensor is not None
                and tensor.device.type == 'cpu'):
            dtype = self._calibrate(module, args, dtype)
        ctx = None
        if dtype is not None:
            if self.cast_outputs:
                args = self._uncast(args)
            ctx = inference_autocast(tensor.device.type if tensor is not None else 'cpu', dtype)
            ctx.__enter__()
        elif not module.training and getattr(self.detector, 'autocast_dtype', None) is not None:
            args = cast_floats(args)  # a float32 stage after a reduced-precision one
        self.contexts.setdefault(module, []).append(ctx)
        return args

    def _time_backbone(self, module: nn.Module, args: tuple,
                       dtype: Optional[torch.dtype]) -> float:
        """Milliseconds of the backbone's forward in ``dtype``: the fastest
        of three after a warm-up (other work on a shared machine only adds
        time, so the minimum is the figure least changed by it)."""
        times = []
        with torch.no_grad(), inference_autocast('cpu', dtype):
            module.forward(*args)  # warm-up (kernel selection, weight casts)
            for _ in range(3):
                start = time.perf_counter()
                module.forward(*args)
                times.append(1000.0 * (time.perf_counter() - start))
        return min(times)

    def _calibrate(self, module: nn.Module, args: tuple,
                   dtype: torch.dtype) -> Optional[torch.dtype]:
        """Measure once; switch autocast off (with a warning giving both
        times) when the reduced precision is slower on this machine."""
        from mmengine.logging import print_log
        reduced = self._time_backbone(module, args, dtype)
        full = self._time_backbone(module, args, None)
        self.calibration = dict(fp32=full, reduced=reduced)
        if reduced <= full:
            return dtype
        self.detector.autocast_dtype = None
        self.restore_weights()
        name = {torch.bfloat16: 'bf16', torch.float16: 'fp16'}.get(dtype, str(dtype))
        print_log(f'{type(self.detector).__name__}: {name} inference refused on this machine: '
                  f'the backbone takes {reduced:.1f} ms in {name} against {full:.1f} ms in '
                  'fp32 (measured on the first image); running in fp32', logger='current',
                  level=30)
        return None

    def _exit(self, module: nn.Module, args: tuple, output: Any):
        ctx = self.contexts[module].pop()
        if ctx is None:
            return None
        ctx.__exit__(None, None, None)
        if not self.roles[module][1] or module in self.feeds_autocast:
            return None
        cast = cast_floats(output)
        if isinstance(output, torch.Tensor) and cast is not output:
            self.cast_outputs[id(cast)] = (cast, output, module)
        return cast

    def _uncast(self, args: tuple) -> tuple:
        """Give an autocast module the reduced-precision original of an
        input that an earlier module's hook cast to float32 (and stop
        casting that module's output)."""
        out = []
        for a in args:
            entry = self.cast_outputs.get(id(a)) if isinstance(a, torch.Tensor) else None
            if entry is not None and entry[0] is a:
                self.feeds_autocast.add(entry[2])
                a = entry[1]
            out.append(a)
        return tuple(out)

    def _fp32_features(self, module: nn.Module, args: tuple):
        if module.training or getattr(self.detector, 'autocast_dtype', None) is None:
            return None
        feats = args[0]

        def fp32(t):
            if not isinstance(t, torch.Tensor) or t.dtype in (torch.float32, torch.float64):
                return t
            if id(t) not in self.fp32_cache:
                self.fp32_cache[id(t)] = t.float()
            return self.fp32_cache[id(t)]

        return (tuple(fp32(t) for t in feats), *args[1:])


def find_two_stage_detectors(model: nn.Module) -> List[nn.Module]:
    """The modules of ``model`` (itself included) with a backbone, an RPN
    head and an RoI head (e.g. a DensePose R-CNN, the detector of a
    ``CSIDetector``)."""
    return [m for m in model.modules()
            if all(hasattr(m, a) for a in ('backbone', 'rpn_head', 'roi_head'))]


def enable_stage_autocast(detector: nn.Module, inference_dtype: Union[None, str, torch.dtype],
                          stages: Optional[Sequence[str]] = None,
                          calibrate: Optional[bool] = None) -> None:
    """Run ``detector``'s stages in ``inference_dtype`` (see
    :class:`StageAutocast`); ``'fp32'``/None turns autocast off.

    Sets ``detector.autocast_dtype`` (and ``autocast_stages`` when given)
    and installs the hooks once. With ``calibrate`` (the default) the first
    CPU image times the backbone in both dtypes and a reduced precision that
    is slower than float32 on this machine is refused (a warning with both
    times; the detector runs in float32), so the option never slows a
    model down.
    """
    detector.autocast_dtype = resolve_inference_dtype(inference_dtype)
    if stages is not None:
        unknown = sorted(set(stages) - set(AUTOCAST_STAGES))
        if unknown:
            raise ValueError(f'autocast_stages: unknown stages {unknown}; valid: '
                             f'{list(AUTOCAST_STAGES)}')
        detector.autocast_stages = tuple(stages)
    elif not hasattr(detector, 'autocast_stages'):
        detector.autocast_stages = AUTOCAST_STAGES
    if not isinstance(getattr(detector, 'stage_autocast', None), StageAutocast):
        detector.stage_autocast = StageAutocast(detector)
    hooks = detector.stage_autocast
    if hooks.weights_dtype is not None and (hooks.weights_dtype != detector.autocast_dtype
                                            or stages is not None):
        hooks.restore_weights()  # stored again at the next forward
    if calibrate is not None:
        detector.stage_autocast.calibrate = bool(calibrate)
    detector.stage_autocast.calibration = None  # measure again for the new setting


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


def restore_roi_align(module: nn.Module) -> int:
    """Put mmcv ``RoIAlign`` layers back in place of :class:`FastRoIAlign`
    (the inverse of :func:`swap_roi_align`, e.g. for a baseline).

    Returns:
        int: Number of layers replaced.
    """
    count = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, FastRoIAlign):
                setattr(parent, name, RoIAlign(
                    child.output_size, spatial_scale=child.spatial_scale,
                    sampling_ratio=child.sampling_ratio, pool_mode=child.pool_mode,
                    aligned=child.aligned, use_torchvision=child.use_torchvision))
                count += 1
    return count


def optimize_for_inference(model: nn.Module,
                           inference_dtype: Union[None, str, torch.dtype] = None,
                           fuse_bn: bool = True,
                           channels_last: Optional[bool] = None,
                           fast_roi_align: bool = True,
                           flush_denormal: bool = True,
                           calibrate: bool = True,
                           cast_weights: bool = True) -> Dict[str, object]:
    """Apply the inference transforms to a model in eval mode.

    Args:
        model (nn.Module): The model (switched to eval mode).
        inference_dtype (str | torch.dtype, optional): Autocast dtype of the
            stages of every two-stage detector in ``model``
            (:func:`enable_stage_autocast`); None keeps the model's setting.
        fuse_bn (bool): Fold BatchNorm into convolutions. Defaults to True.
        channels_last (bool, optional): Channels-last parameters and inputs
            (oneDNN's convolutions, the fast RoIAlign and the chart decoding
            then read the features without layout copies). None (default):
            on for a model on the CPU.
        fast_roi_align (bool): Swap in :class:`FastRoIAlign`.
        flush_denormal (bool): ``torch.set_flush_denormal(True)`` (process
            wide; denormal float32 arithmetic is many times slower on CPUs).
        calibrate (bool): Refuse a reduced ``inference_dtype`` that is
            slower than float32 on this CPU, measured on the first image
            (see :func:`enable_stage_autocast`).
        cast_weights (bool): With a reduced ``inference_dtype``, store the
            conv / linear weights of the autocast stages in that dtype once
            (on the first image, see :class:`StageAutocast`) instead of
            casting them under autocast at every call. Defaults to True.

    Returns:
        dict: What was done: ``fused_bn``, ``swapped_roi_align`` (counts),
        ``channels_last`` and ``inference_dtype``.
    """
    model.eval()
    if channels_last is None:
        param = next(model.parameters(), None)
        channels_last = param is not None and param.device.type == 'cpu'
    summary: Dict[str, object] = dict(fused_bn=0, swapped_roi_align=0,
                                      channels_last=channels_last, inference_dtype=None)
    if flush_denormal:
        # float32 values below 1e-38 computed at full cost are a slowdown
        # without a visible effect on detections
        torch.set_flush_denormal(True)
    if inference_dtype is not None:
        detectors = find_two_stage_detectors(model)
        if not detectors:
            raise TypeError(f'{type(model).__name__} holds no two-stage detector (backbone, '
                            'rpn_head, roi_head) whose stages could run in '
                            f'{inference_dtype}')
        for det in detectors:
            enable_stage_autocast(det, inference_dtype, calibrate=calibrate)
            det.stage_autocast.cast_weights = bool(cast_weights)
        summary['inference_dtype'] = str(inference_dtype)
    if fuse_bn:
        summary['fused_bn'] = fuse_batch_norms(model)
    if fast_roi_align:
        summary['swapped_roi_align'] = swap_roi_align(model)
    if channels_last:
        convert_to_channels_last(model)
    return summary


def pick_inference_dtype(model: nn.Module, run: Callable[[nn.Module], Any],
                         candidates: Sequence[str] = ('fp32', 'bf16'), repeats: int = 3,
                         **optimize_kwargs) -> Tuple[str, Dict[str, float]]:
    """The fastest inference dtype of ``model`` on this machine, measured.

    Each candidate is applied to a copy of ``model`` with
    :func:`optimize_for_inference` and timed on ``run(copy)`` (one warm-up,
    then the median of ``repeats`` calls), so a reduced precision that is
    slower here (small models on CPUs without fast bf16 matrix units) is
    never chosen.

    Args:
        model (nn.Module): The model in eval mode (not modified).
        run (Callable): Runs one inference of a model (e.g. one image).
        candidates (Sequence[str]): Dtype names to compare, the first being
            the default on ties.
        repeats (int): Timed calls per candidate.
        **optimize_kwargs: More :func:`optimize_for_inference` arguments.

    Returns:
        tuple[str, dict[str, float]]: The choice and milliseconds per call
        of every candidate.
    """
    ms: Dict[str, float] = {}
    for name in candidates:
        copy_ = copy.deepcopy(model)
        optimize_for_inference(copy_, inference_dtype=name, **dict(optimize_kwargs,
                                                                   calibrate=False))
        times = []
        with torch.no_grad():
            for i in range(repeats + 1):
                start = time.perf_counter()
                run(copy_)
                if i:
                    times.append(time.perf_counter() - start)
        ms[name] = 1000.0 * statistics.median(times)
    return min(ms, key=ms.get), ms


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
