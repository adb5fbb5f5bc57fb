# Copyright (c) mmdensekd contributors. All rights reserved.
"""Benchmark model inference latency per image, like for like.

    python tools/analysis/benchmark_inference.py CONFIG [CKPT] [--num-images 50]
        [--warmup 5] [--device cpu|cuda] [--shape H W] [--num-dets N]
        [--dtype fp32 bf16 auto ...] [--baseline] [--plain-baseline]
        [--[no-]channels-last] [--no-fuse-bn]
        [--autocast-stages ...] [--threads T] [--csi mmfi piw] [--check-agreement]
        [--no-profile]
        [--cfg-options k=v ...]

Any config the project ships runs with its checkpoint: image models, CSI
students (``CSIDetector``: random CSI of the student's layout goes through
MTN and detector) and distillation configs (their student, built with
:func:`mmdensekd.apis.student_config` and loaded with
:func:`mmdensekd.apis.init_model`, which reads distillation checkpoints).

Only the model's forward in ``predict`` mode is timed (under
``torch.no_grad()``, with ``torch.cuda.synchronize()`` on GPU): image
reading, the test pipeline and the data preprocessor run before the timer
starts. Batch size is 1.

* Variants: one per ``--dtype`` (:func:`optimize_for_inference` with its
  defaults: BatchNorm folded unless ``--no-fuse-bn``, the fast CPU
  RoIAlign, channels-last on the CPU unless ``--no-channels-last``, bf16
  weights stored once, denormals flushed). All variants share the weights
  and the input and run alternately image by image, in an order rotated at
  every image, so that a ratio compares runs that saw the same machine load.
  Median and min over the timed images are reported, and ratios to the
  first variant.
* ``--baseline``: today's path, the inference of release a3c982d (the one
  issue 23 measures against), at each ``--dtype`` before this release's
  variant (:func:`build_today_variant`, :func:`today_predict`): the model as
  configured (no BatchNorm folding, NCHW, no denormal flushing), that
  release's predict (backbone, neck and RPN head each in its own autocast
  context, every FPN level cast to float32 before the RoI head, the RoI head
  in one autocast context with its box head, DensePose predictor
  convolutions and keypoint deconvolution cast back to float32) and its
  chart decoding (labels and U/V at the predictor resolution, resized to the
  box: ``decoding='fast'``). Each variant's time is also given as the
  median over images of its ratio to today's path at its dtype (the two ran
  back to back on the same image). ``--plain-baseline``: the plain float32
  model (mmcv RoIAlign, no folding) as first variant.
* ``--num-dets N`` forces N detections per image through the second-stage
  heads (box score threshold 0, no box NMS suppression, at most N per image,
  at least N RPN proposals), which makes random weights and real weights
  cost the same.
* A per-stage breakdown (backbone, neck, RPN head, proposals (decoding +
  NMS), box RoI extractor and head, DensePose RoI extractor (with the
  DensePose decoder when the config has one, also in a row of its own) and
  head, predictor, chart decoding, keypoint extractor and head, and all
  RoIAlign calls together) comes from one extra profiled
  forward per variant (``torch.profiler`` ranges this script puts around
  the stage modules), plus the self time of dtype casts and memory-format
  copies (``aten::_to_copy``, ``aten::clone``, ``aten::copy_``). Stage
  times are inclusive.
* ``--dtype auto`` times fp32 and bf16 on the first image and keeps the
  faster (printed with both times), so reduced precision never makes a
  model slower (tiny models are several times slower in bf16 on CPU).
* ``--csi mmfi piw`` (image models): a modality translation network (MTN)
  on CSI of the MM-Fi (3x114x10) or Person-in-WiFi (150x3x3) shape followed
  by the detector on its image-like output.
* Without a checkpoint the model keeps its random initialisation (nothing
  pretrained is read). With ``--shape H W``, or when the config's test
  dataset cannot be built, a synthetic random image goes through the test
  pipeline.
"""
import argparse
import copy
import logging
import os.path as osp
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.ops import RoIAlign
from mmdet.structures import DetDataSample
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import MMLogger
from torch.profiler import ProfilerActivity, profile, record_function

from mmdensekd.apis import init_model, student_config
from mmdensekd.models.layers import optimize_for_inference
from mmdensekd.models.layers.fast_inference import (
    cast_floats,
    enable_stage_autocast,
    find_two_stage_detectors,
    inference_autocast,
    pick_inference_dtype,
    prediction_agreement,
    resolve_inference_dtype,
    restore_roi_align,
    swap_roi_align,
)
from mmdensekd.models.layers.roi_align import FastRoIAlign
from mmdensekd.registry import DATASETS, MODELS

#: CSI layouts: amplitude shape (= phase shape) and the MTN output (H, W).
CSI_PRESETS = {
    'mmfi': dict(amp_shape=(3, 114, 10), out_size=(480, 640)),
    'piw': dict(amp_shape=(150, 3, 3), out_size=(720, 1280)),
}
#: Stage rows of the breakdown, in forward order.
STAGES = ('backbone', 'neck', 'rpn_head', 'rpn_proposals', 'box_roi_extractor', 'box_head',
          'densepose_roi_extractor', 'densepose_decoder', 'densepose_head', 'predictor',
          'chart_decoding', 'keypoint_roi_extractor', 'keypoint_head', 'roi_align',
          'casts + layout copies')
#: Row titles of the breakdown (the stages named by issue 23).
STAGE_TITLES = {
    'neck': 'neck (FPN)', 'rpn_proposals': 'rpn_proposals (decoding + NMS)',
    'box_roi_extractor': 'box_roi_extractor (RoIAlign)',
    'densepose_roi_extractor': 'densepose_roi_extractor (decoder + RoIAlign)',
    'densepose_head': 'densepose_head (convs)', 'predictor': 'predictor (+ upsampling)',
    'chart_decoding': 'chart_decoding (per-box IUV)',
    'roi_align': 'roi_align (all RoIAlign calls)',
    'casts + layout copies': 'casts + layout copies (self)'}
#: Profiler ops counted (self time) as dtype casts and memory-format copies.
COPY_OPS = ('aten::_to_copy', 'aten::clone', 'aten::copy_', 'aten::contiguous')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark inference latency per image')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (default: random init)')
    parser.add_argument('--num-images', type=int, default=50, help='timed images')
    parser.add_argument('--warmup', type=int, default=5, help='untimed warm-up images')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda when available)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='benchmark on a synthetic H x W image')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the synthetic image and of the random weights '
                        '(without a checkpoint)')
    parser.add_argument('--num-dets', type=int, default=None, metavar='N',
                        help='force N detections per image (score threshold 0)')
    parser.add_argument('--dtype', nargs='+', default=['fp32'],
                        choices=['fp32', 'bf16', 'fp16', 'auto'],
                        help='inference dtype of each variant (default: fp32); auto: the '
                        'faster of fp32 and bf16, measured')
    parser.add_argument('--baseline', action='store_true',
                        help="also time today's path (release a3c982d's inference, see "
                        'build_today_variant) at each --dtype, run alternately with this '
                        "release's, and give each variant's ratio to it")
    parser.add_argument('--plain-baseline', action='store_true',
                        help='also time the plain fp32 model (mmcv RoIAlign, no BN folding)')
    parser.add_argument('--channels-last', action=argparse.BooleanOptionalAction,
                        default=None, help='channels-last parameters and inputs in the '
                        "variants (default: optimize_for_inference's, on for the CPU)")
    parser.add_argument('--no-fuse-bn', action='store_true',
                        help='do not fold BatchNorm into convolutions in the variants')
    parser.add_argument('--autocast-stages', nargs='+', default=None,
                        choices=['backbone', 'neck', 'rpn_head', 'roi_head'],
                        help='stages the bf16/fp16 variants autocast (default: all)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--csi', nargs='+', choices=sorted(CSI_PRESETS), default=[],
                        help='also benchmark the CSI student (MTN + detector) at these shapes')
    parser.add_argument('--check-agreement', action='store_true',
                        help='compare the predictions of each variant with the first one')
    parser.add_argument('--no-profile', action='store_true', help='skip the stage breakdown')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.warmup < 0:
        parser.error('--num-images must be >= 1 and --warmup >= 0')
    if args.num_dets is not None and args.num_dets < 1:
        parser.error('--num-dets must be >= 1')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


# --------------------------------------------------------------------- models
def force_num_dets(model: torch.nn.Module, num: int) -> int:
    """Make every image give exactly ``num`` detections (see module doc):
    the RPN and RoI-head test settings of every two-stage detector in
    ``model``; returns how many detectors were changed."""
    detectors = find_two_stage_detectors(model)
    for det in detectors:
        rcnn, rpn = det.roi_head.test_cfg, det.rpn_head.test_cfg
        rcnn.update(score_thr=0.0, max_per_img=num)
        rcnn['nms'] = dict(rcnn.get('nms') or dict(type='nms'), iou_threshold=1.0)
        rpn['max_per_img'] = max(rpn.get('max_per_img', num), num)
        rpn['nms_pre'] = max(rpn.get('nms_pre', num), num)
    return len(detectors)


def build_variants(model: torch.nn.Module, args: argparse.Namespace) -> Dict[str, dict]:
    """Name -> dict(model, dtype) of the variants, first one the reference;
    with ``--baseline`` today's path (:func:`build_today_variant`) at each
    dtype before this release's, and ``today`` naming the baseline of each
    variant."""
    variants = {}
    if args.plain_baseline:
        base = copy.deepcopy(model).eval()
        restore_roi_align(base)
        variants['plain fp32'] = dict(model=base, dtype=None, summary='mmcv RoIAlign')
    for name in dict.fromkeys(args.dtype):
        if args.baseline:
            variants[f'today {name}'] = build_today_variant(model, name)
        m = copy.deepcopy(model)
        # the dtype asked for, measured as is (no automatic refusal)
        summary = optimize_for_inference(m, inference_dtype=name, fuse_bn=not args.no_fuse_bn,
                                         channels_last=args.channels_last, calibrate=False)
        label = name + {True: ' channels-last', False: ' NCHW', None: ''}[args.channels_last]
        if args.autocast_stages and name != 'fp32':
            for det in find_two_stage_detectors(m):
                enable_stage_autocast(det, name, args.autocast_stages, calibrate=False)
            label += ' (' + ','.join(args.autocast_stages) + ')'
        fast = sum(isinstance(x, FastRoIAlign) for x in m.modules())
        variants[label] = dict(model=m, dtype=resolve_inference_dtype(name),
                               baseline=f'today {name}' if args.baseline else None,
                               summary=f'{summary["fused_bn"]} BN folded, '
                               f'{fast} fast RoIAlign'
                               + (', channels-last' if summary['channels_last'] else '')
                               + (', weights stored in ' + name if name != 'fp32' else ''))
    return variants


# ------------------------------------------------------ today's path (baseline)
#: The release the issue-23 work started from: its inference is the baseline.
TODAY_RELEASE = 'a3c982d'


def _today_float_output_modules(det: torch.nn.Module) -> List[torch.nn.Module]:
    """RoI-head modules whose outputs release a3c982d cast back to float32:
    the box head, the DensePose predictor's convolutions (its upsampling ran
    in float32) and the keypoint head's deconvolution."""
    head = det.roi_head
    modules = [getattr(head, 'bbox_head', None)]
    predictor = getattr(head, 'densepose_predictor', None)
    if predictor is not None:
        convs = [m for m in predictor.modules()
                 if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear))]
        modules += convs or [predictor]
    keypoint_head = getattr(head, 'keypoint_head', None)
    if keypoint_head is not None:
        modules.append(getattr(keypoint_head, 'deconv', keypoint_head))
    return [m for m in modules if m is not None]


def _to_float32_hook(module: torch.nn.Module, args: tuple, output):
    return cast_floats(output, torch.float32)


def today_predict(det: torch.nn.Module, batch_inputs: torch.Tensor,
                  batch_data_samples: List[DetDataSample], dtype: Optional[torch.dtype],
                  rescale: bool = True) -> List[DetDataSample]:
    """``DensePoseRCNN.predict`` of release a3c982d (the inference the
    issue-23 work is measured against), on the modules of ``det``.

    Each of backbone, neck and RPN head ran in its own
    ``torch.autocast(dtype)`` context (weights cast at every call), the RPN
    outputs were cast to float32 for proposal decoding and NMS, every FPN
    level was cast to float32 before the RoI head, and the whole RoI head ran
    in one autocast context with forward hooks casting the box head's, the
    DensePose predictor convolutions' and the keypoint deconvolution's
    outputs to float32. ``dtype=None`` is the plain float32 predict.
    """
    device = batch_inputs.device.type
    with inference_autocast(device, dtype):
        x = det.backbone(batch_inputs)
    if det.with_neck:
        with inference_autocast(device, dtype):
            x = det.neck(x)
    if batch_data_samples[0].get('proposals', None) is None:
        with inference_autocast(device, dtype):
            rpn_outs = det.rpn_head(x)
        rpn_results_list = det.rpn_head.predict_by_feat(
            *cast_floats(rpn_outs), batch_img_metas=[s.metainfo for s in batch_data_samples],
            rescale=False)
    else:
        rpn_results_list = [s.proposals for s in batch_data_samples]
    x = cast_floats(x)
    handles = [] if dtype is None else [
        m.register_forward_hook(_to_float32_hook) for m in _today_float_output_modules(det)]
    try:
        with inference_autocast(device, dtype):
            results_list = det.roi_head.predict(x, rpn_results_list, batch_data_samples,
                                                rescale=rescale)
    finally:
        for h in handles:
            h.remove()
    return det.add_pred_to_datasample(batch_data_samples, results_list)


def build_today_variant(model: torch.nn.Module, name: str) -> dict:
    """``model`` as release a3c982d ran it at ``name`` (``tools/test.py
    --inference-dtype name``, the model as configured): no BatchNorm folding,
    the fast CPU RoIAlign (that release's constructor default), NCHW, no
    denormal flushing, the DensePose charts decoded at the predictor
    resolution and resized to the boxes (``decoding='fast'``, that
    release's only decoding) and :func:`today_predict` instead of the stage
    hooks."""
    m = copy.deepcopy(model).eval()
    dets = find_two_stage_detectors(m)
    for det in dets:
        hooks = getattr(det, 'stage_autocast', None)
        if hooks is not None:
            hooks.remove()
        det.autocast_dtype = None
        swap_roi_align(det.roi_head)
        predictor = getattr(det.roi_head, 'densepose_predictor', None)
        if predictor is not None and hasattr(predictor, 'decoding'):
            predictor.decoding = 'fast'
    return dict(model=m, dtype=resolve_inference_dtype(name), today=dets,
                flush_denormal=False, summary=f'release {TODAY_RELEASE}: no BN folding, '
                'fast RoIAlign, fast chart decoding, autocast per stage')


# --------------------------------------------------------------------- inputs
def _synthetic_source(cfg: Config, shape, seed: int, tmp_dir: str) -> Callable[[int], dict]:
    """Run the test pipeline once on a random image written to ``tmp_dir``."""
    h, w = shape
    if h < 1 or w < 1:
        raise SystemExit(f'--shape must be positive, got {h} {w}')
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    path = osp.join(tmp_dir, 'synthetic.jpg')
    cv2.imwrite(path, img)
    pipeline_cfg = cfg.test_dataloader.dataset.get('pipeline')
    if not pipeline_cfg:
        raise SystemExit('--shape: the config has no test_dataloader.dataset.pipeline')
    # image-only: CSI loading/packing steps of paired configs are dropped
    pipeline_cfg = [t for t in pipeline_cfg if 'CSI' not in str(t.get('type', ''))]
    pipeline = Compose(pipeline_cfg)
    sample = pipeline(dict(img_path=path, img_id=0, id=0, height=h, width=w, instances=[]))
    if sample is None:
        raise SystemExit('--shape: the test pipeline dropped the synthetic image')
    return lambda i: sample


def _dataset_source(cfg: Config) -> Callable[[int], dict]:
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    if len(dataset) == 0:
        raise ValueError('the test dataset is empty')
    return lambda i: dataset[i % len(dataset)]


def csi_batch(preset: str, seed: int, pad_divisor: int = 32) -> dict:
    """Random CSI (amplitude, phase) and the data sample of its MTN image."""
    spec = CSI_PRESETS[preset]
    g = torch.Generator().manual_seed(seed)
    amp = torch.rand(1, *spec['amp_shape'], generator=g) * 40
    phase = (torch.rand(1, *spec['amp_shape'], generator=g) - 0.5) * 6
    h, w = spec['out_size']
    ph, pw = -(-h // pad_divisor) * pad_divisor, -(-w // pad_divisor) * pad_divisor
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                         scale_factor=(1.0, 1.0), pad_shape=(ph, pw),
                                         batch_input_shape=(ph, pw)))
    return dict(amp=amp, phase=phase, sample=sample, pad=(0, pw - w, 0, ph - h))


# ------------------------------------------------------------------ timing
def benchmark(model: torch.nn.Module, get_sample: Callable[[int], dict], num_images: int,
              warmup: int, device: torch.device) -> List[float]:
    """Time ``model(..., mode='predict')`` per image (one model).

    Args:
        model (nn.Module): Model in eval mode on ``device``.
        get_sample (Callable): Image index -> packed sample (pipeline output).
        num_images (int): Timed images.
        warmup (int): Untimed images before.
        device (torch.device): Model device.

    Returns:
        list[float]: Latency per timed image in seconds.
    """
    variants = {'model': dict(model=model, dtype=None)}
    return benchmark_variants(variants, get_sample, num_images, warmup, device)['model']


def _set_flush_denormal(variant: dict) -> None:
    """Denormal flushing is process wide: on for this release's variants
    (:func:`optimize_for_inference`), off for today's path."""
    torch.set_flush_denormal(variant.get('flush_denormal', True))


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _run_image(variant: dict, batch: dict) -> List[DetDataSample]:
    data_samples = [copy.deepcopy(s) for s in batch['data_samples']]
    if variant.get('today'):
        return today_predict(variant['model'], batch['inputs'], data_samples, variant['dtype'])
    return variant['model'](batch['inputs'], data_samples, mode='predict')


def _run_csi(variant: dict, batch: dict) -> List[DetDataSample]:
    model, mtn = variant['model'], variant['mtn']
    device = batch['amp'].device
    with inference_autocast(device.type, variant['dtype']):
        img = mtn(batch['amp'], batch['phase'])
    img = F.pad(img.float(), batch['pad'])
    if variant.get('today'):
        return today_predict(model, img, [copy.deepcopy(batch['sample'])], variant['dtype'])
    return model.predict(img, [copy.deepcopy(batch['sample'])], rescale=True)


def benchmark_variants(variants: Dict[str, dict], get_batch: Callable[[int], dict],
                       num_images: int, warmup: int, device: torch.device,
                       run: Optional[Callable] = None) -> Dict[str, List[float]]:
    """Time the variants alternately, image by image.

    Args:
        variants (dict): Name -> dict with ``model`` (and ``dtype``).
        get_batch (Callable): Image index -> packed sample (pipeline
            output) or, with ``run``, whatever ``run`` takes.
        num_images (int): Timed images.
        warmup (int): Untimed images before.
        device (torch.device): Model device.
        run (Callable, optional): ``run(variant, batch)``; default: the
            data preprocessor of the first variant, then ``predict``.

    Returns:
        dict[str, list[float]]: Latencies (s) per variant.
    """
    times: Dict[str, List[float]] = {name: [] for name in variants}
    first = next(iter(variants.values()))['model']
    names = list(variants)
    with torch.no_grad():
        for i in range(warmup + num_images):
            if run is None:
                batch = first.data_preprocessor(pseudo_collate([get_batch(i)]), False)
            else:
                batch = get_batch(i)
            # rotated order: no variant always runs first (or after another)
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                variant = variants[name]
                _set_flush_denormal(variant)
                _sync(device)
                start = time.perf_counter()
                (run or _run_image)(variant, batch)
                _sync(device)
                if i >= warmup:
                    times[name].append(time.perf_counter() - start)
    return times


# ------------------------------------------------------------------ profile
def _add_range(module: torch.nn.Module, label: str, handles: list) -> None:
    stack = []

    def pre(mod, args):
        rf = record_function(label)
        rf.__enter__()
        stack.append(rf)

    def post(mod, args, output):
        stack.pop().__exit__(None, None, None)

    handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]


def profile_stages(model: torch.nn.Module, run: Callable[[], object]) -> Dict[str, float]:
    """Milliseconds per stage (inclusive CPU time of its profiler range)
    over one call of ``run``, and the self time of casts and layout copies.
    The ranges come from forward hooks on the stage modules and, for the
    RPN's proposals and the chart decoding, from wrappers, all removed
    after."""
    handles: list = []
    wrapped = []
    for det in find_two_stage_detectors(model):
        for attr in ('backbone', 'neck', 'rpn_head'):
            if getattr(det, attr, None) is not None:
                _add_range(getattr(det, attr), attr, handles)
        roi = det.roi_head
        for attr, label in (('bbox_roi_extractor', 'box_roi_extractor'),
                            ('bbox_head', 'box_head'),
                            ('densepose_roi_extractor', 'densepose_roi_extractor'),
                            ('densepose_head', 'densepose_head'),
                            ('densepose_predictor', 'predictor'),
                            ('keypoint_roi_extractor', 'keypoint_roi_extractor'),
                            ('keypoint_head', 'keypoint_head')):
            if getattr(roi, attr, None) is not None:
                _add_range(getattr(roi, attr), label, handles)
        extractor = getattr(roi, 'densepose_roi_extractor', None)
        if getattr(extractor, 'decoder', None) is not None:
            _add_range(extractor.decoder, 'densepose_decoder', handles)
        for m in roi.modules():
            if isinstance(m, RoIAlign):  # FastRoIAlign is one too
                _add_range(m, 'roi_align', handles)
        for owner, method, label in ((det.rpn_head, 'predict_by_feat', 'rpn_proposals'),
                                     (roi, 'predict_densepose', 'chart_decoding')):
            if hasattr(owner, method):
                wrapped.append((owner, method))
                setattr(owner, method, _ranged(getattr(owner, method), label))
    try:
        with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            with record_function('forward'):
                run()
            total = time.perf_counter() - start
    finally:
        for h in handles:
            h.remove()
        for owner, method in wrapped:
            delattr(owner, method)  # the class's method again
    ms = {label: 0.0 for label in STAGES}
    for evt in prof.key_averages():
        if evt.key in ms:
            ms[evt.key] += evt.cpu_time_total / 1000.0
        elif evt.key in COPY_OPS:
            ms['casts + layout copies'] += evt.self_cpu_time_total / 1000.0
    ms['forward (profiled)'] = total * 1000.0
    return ms


def _ranged(method: Callable, label: str) -> Callable:
    def call(*args, **kwargs):
        with record_function(label):
            return method(*args, **kwargs)
    return call


# ------------------------------------------------------------------ output
def format_table(rows: List[tuple]) -> str:
    """Text table of rows of equal length (first row: header when
    ``len(row) > 2``)."""
    cols = max(len(r) for r in rows)
    rows = [tuple(str(c) for c in r) + ('', ) * (cols - len(r)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(cols)]
    line = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    body = ['| ' + ' | '.join(c.ljust(w) for c, w in zip(r, widths)) + ' |' for r in rows]
    if cols > 2:
        body.insert(1, line)
    return '\n'.join([line, *body, line])


def summarize(times: Dict[str, List[float]],
              baselines: Optional[Dict[str, Optional[str]]] = None) -> Dict[str, dict]:
    """Median, mean, min, max (ms) per variant and median ratio to the
    first; with ``baselines`` (variant -> its baseline variant) also
    ``vs_baseline``, the median over images of the ratio of the two times of
    one image (the two ran back to back on the same input)."""
    out = {}
    ref = None
    for name, ts in times.items():
        ms = [t * 1000 for t in ts]
        med = statistics.median(ms)
        ref = med if ref is None else ref
        out[name] = dict(median_ms=med, mean_ms=statistics.fmean(ms), min_ms=min(ms),
                         max_ms=max(ms), images_per_s=1000.0 / med, ratio=med / ref)
        base = (baselines or {}).get(name)
        if base in times:
            out[name]['vs_baseline'] = statistics.median(
                t / b for t, b in zip(ts, times[base]))
            out[name]['baseline'] = base
    return out


def _variant_table(title: str, stats: Dict[str, dict], variants: Dict[str, dict]) -> str:
    ref = next(iter(stats))
    paired = any('vs_baseline' in s for s in stats.values())
    rows = [(title, 'median ms', 'min ms', 'images/s', f'ratio to {ref}',
             *(('ratio to today (paired)', ) if paired else ()), 'setup')]
    for name, s in stats.items():
        vs = (f'{s["vs_baseline"]:.3f} vs {s["baseline"]}' if 'vs_baseline' in s else '', )
        rows.append((name, f'{s["median_ms"]:.1f}', f'{s["min_ms"]:.1f}',
                     f'{s["images_per_s"]:.2f}', f'{s["ratio"]:.3f}',
                     *(vs if paired else ()), variants[name].get('summary', '')))
    return format_table(rows)


def _stage_table(stages: Dict[str, Dict[str, float]]) -> str:
    names = list(stages)
    rows = [('stage (ms, one profiled forward)', *names)]
    for label in (*STAGES, 'forward (profiled)'):
        vals = [stages[n].get(label, 0.0) for n in names]
        if any(vals):
            rows.append((STAGE_TITLES.get(label, label), *[f'{v:.1f}' for v in vals]))
    return format_table(rows)


def _num_dets(results: Sequence[DetDataSample]) -> int:
    return sum(len(r.pred_instances) for r in results)


# ------------------------------------------------------------------ main
def build_model(cfg: Config, checkpoint: Optional[str], device: torch.device) -> torch.nn.Module:
    """The model of ``cfg`` (a distillation config's student) with random
    init or a local checkpoint, through :func:`mmdensekd.apis.init_model`."""
    if checkpoint and not osp.isfile(checkpoint):
        raise SystemExit(f'checkpoint {checkpoint} not found')
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # no per-parameter init report
    try:
        return init_model(cfg, checkpoint, device=device).eval()
    finally:
        logger.setLevel(level)


def build_mtn(cfg: Config, preset: str) -> torch.nn.Module:
    """A default MTN at a CSI preset shape (``--csi`` on image models)."""
    spec = CSI_PRESETS[preset]
    mtn = MODELS.build(dict(type='ModalityTranslationNetwork', amp_shape=spec['amp_shape'],
                            phase_shape=None, out_size=spec['out_size']))
    mtn.init_weights()
    return mtn.eval()


def student_csi_batch(model: torch.nn.Module, seed: int, pad_divisor: int = 32) -> dict:
    """Random CSI of a ``CSIDetector``'s layout and the sample of its
    image frame (the MTN output size)."""
    shape = tuple(model.mtn.amp_shape)
    g = torch.Generator().manual_seed(seed)
    csi = torch.stack([torch.rand(1, *shape, generator=g) * 40,
                       (torch.rand(1, *shape, generator=g) - 0.5) * 6], dim=1)
    csi = csi.to(next(model.parameters()).device)
    with torch.no_grad():
        h, w = model.csi_to_image(csi).shape[-2:]
    ph, pw = -(-h // pad_divisor) * pad_divisor, -(-w // pad_divisor) * pad_divisor
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                         scale_factor=(1.0, 1.0), pad_shape=(ph, pw),
                                         batch_input_shape=(h, w)))
    return dict(inputs=csi, data_samples=[sample])


def _run_student(variant: dict, batch: dict) -> List[DetDataSample]:
    data_samples = [copy.deepcopy(s) for s in batch['data_samples']]
    model = variant['model']
    if variant.get('today'):
        img = model.csi_to_image(batch['inputs'], data_samples)
        return today_predict(model.detector, img, data_samples, variant['dtype'])
    return model.predict(batch['inputs'], data_samples)


def main(argv=None) -> Optional[dict]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg = student_config(cfg)  # a distillation config benchmarks its student
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    torch.manual_seed(args.seed)  # random weights (no checkpoint) are the same every run
    model = build_model(cfg, args.checkpoint, device)
    if args.num_dets is not None:
        force_num_dets(model, args.num_dets)
    is_student = hasattr(model, 'mtn') and hasattr(model, 'csi_to_image')

    with tempfile.TemporaryDirectory() as tmp_dir:
        if is_student:
            batch0 = student_csi_batch(model, args.seed)
            get_batch, source, run = (lambda i: batch0), 'random CSI ' + 'x'.join(
                map(str, model.mtn.amp_shape)), _run_student
        else:
            if args.shape:
                get_sample, source = _synthetic_source(cfg, args.shape, args.seed, tmp_dir), \
                    f'synthetic {args.shape[0]}x{args.shape[1]}'
            else:
                try:
                    get_sample, source = _dataset_source(cfg), 'test dataset'
                except (FileNotFoundError, ValueError, OSError, KeyError) as e:
                    raise SystemExit(f'cannot build the test dataset ({e}); pass --shape H W '
                                     'to benchmark on a synthetic image') from None

            def get_batch(i: int) -> dict:
                return model.data_preprocessor(pseudo_collate([get_sample(i)]), False)

            batch0, run = get_batch(0), _run_image
        auto = None
        if 'auto' in args.dtype:
            choice, auto_ms = pick_inference_dtype(
                model, lambda m: run(dict(model=m), batch0), fuse_bn=not args.no_fuse_bn,
                channels_last=args.channels_last)
            auto = dict(choice=choice, ms=auto_ms)
            args.dtype = [choice if d == 'auto' else d for d in args.dtype]
            print(f'--dtype auto: {choice} (fp32 {auto_ms["fp32"]:.1f} ms, bf16 '
                  f'{auto_ms["bf16"]:.1f} ms per image)')
        variants = build_variants(model, args)
        times = benchmark_variants(variants, get_batch, args.num_images, args.warmup, device,
                                   run=run)

    baselines = {name: v.get('baseline') for name, v in variants.items()}
    stats = summarize(times, baselines)
    # the header shows this release's first variant
    main_name = next((n for n, v in variants.items() if not v.get('today')), next(iter(stats)))
    result = dict(stats[main_name], variants=stats, auto=auto)
    rows = [
        ('config', osp.basename(args.config)),
        ('model', type(model).__name__),
        ('checkpoint', osp.basename(args.checkpoint) if args.checkpoint else 'random init'),
        ('device', f'{device} ({torch.get_num_threads()} threads)'),
        ('images', f'{args.num_images} ({source}), warm-up {args.warmup}'),
        ('detections per image',
         f'forced {args.num_dets}' if args.num_dets else 'as configured'),
        ('variant', main_name),
        ('median latency (ms/img)', f'{result["median_ms"]:.1f}'),
        ('mean latency (ms/img)', f'{result["mean_ms"]:.1f}'),
        ('min / max (ms/img)', f'{result["min_ms"]:.1f} / {result["max_ms"]:.1f}'),
        ('images/s (median)', f'{result["images_per_s"]:.2f}'),
    ]
    print(format_table(rows))
    print(_variant_table('image variant' if not is_student else 'CSI student variant', stats,
                         variants))

    outputs = {}
    with torch.no_grad():
        for name, v in variants.items():
            _set_flush_denormal(v)
            outputs[name] = run(v, batch0)
    torch.set_flush_denormal(True)
    result['num_dets'] = {name: _num_dets(out) for name, out in outputs.items()}
    if args.check_agreement and len(variants) > 1:
        # each variant against the first of its kind (today's path / this
        # release's), which decode charts differently
        result['agreement'] = {}
        firsts = {}
        for name, v in variants.items():
            firsts.setdefault(bool(v.get('today')), name)
        rows = [('agreement (variant / reference)', 'matched', 'within 1 px', 'max box dev px',
                 'label agree', 'U/V mad (fg)', 'U/V mad (all)')]
        for name, v in variants.items():
            ref_name = firsts[bool(v.get('today'))]
            if name == ref_name:
                continue
            agg = prediction_agreement(outputs[ref_name][0].pred_instances,
                                       outputs[name][0].pred_instances)
            result['agreement'][name] = dict(agg, reference=ref_name)
            rows.append((f'{name} / {ref_name}', f'{int(agg["matched"])}/{int(agg["num_ref"])}',
                         f'{int(agg["within_1px"])}', f'{agg["max_box_dev"]:.3f}',
                         f'{agg.get("label_agreement", 1):.4f}',
                         f'{agg.get("uv_mad", 0):.4f}', f'{agg.get("uv_mad_all", 0):.4f}'))
        print(format_table(rows))

    if not args.no_profile:
        stages = {}
        for name, v in variants.items():
            _set_flush_denormal(v)
            stages[name] = profile_stages(v['model'], lambda v=v: run(v, batch0))
        torch.set_flush_denormal(True)
        result['stages'] = stages
        print(_stage_table(stages))

    for preset in ([] if is_student else args.csi):
        mtn = build_mtn(cfg, preset).to(device)
        for v in variants.values():
            v['mtn'] = copy.deepcopy(mtn)  # same weights in every variant
        csi = csi_batch(preset, args.seed)
        csi.update(amp=csi['amp'].to(device), phase=csi['phase'].to(device))
        csi_times = benchmark_variants(variants, lambda i: csi, args.num_images, args.warmup,
                                       device, run=_run_csi)
        csi_stats = summarize(csi_times, baselines)
        result[f'csi_{preset}'] = csi_stats
        spec = CSI_PRESETS[preset]
        print(_variant_table(
            f'CSI {preset} {"x".join(map(str, spec["amp_shape"]))} -> '
            f'{spec["out_size"][0]}x{spec["out_size"][1]}', csi_stats, variants))
    return result


if __name__ == '__main__':
    main()
