# Copyright (c) mmdensekd contributors. All rights reserved.
"""Benchmark model inference latency per image, like for like.

    python tools/analysis/benchmark_inference.py CONFIG [CKPT] [--num-images 50]
        [--warmup 5] [--device cpu|cuda] [--shape H W] [--num-dets N]
        [--dtype fp32 bf16 ...] [--baseline] [--channels-last] [--no-fuse-bn]
        [--autocast-stages ...] [--threads T] [--csi mmfi piw] [--check-agreement]
        [--no-profile]
        [--cfg-options k=v ...]

Only the model's forward in ``predict`` mode is timed (under
``torch.no_grad()``, with ``torch.cuda.synchronize()`` on GPU): image
reading, the test pipeline and the data preprocessor run before the timer
starts. Batch size is 1.

* Variants: one per ``--dtype`` (inference transforms applied: BatchNorm
  folded unless ``--no-fuse-bn``, the fast CPU RoIAlign, channels-last with
  ``--channels-last``), plus with ``--baseline`` the project's plain float32
  model (mmcv RoIAlign, no folding, NCHW). All variants share the weights
  and the input, and run alternately image by image, so that a ratio
  compares runs that saw the same machine load. Median and min over the
  timed images are reported, and ratios to the first variant.
* ``--num-dets N`` forces N detections per image through the second-stage
  heads (box score threshold 0, no box NMS suppression, at most N per image,
  at least N RPN proposals), which makes random weights and real weights
  cost the same.
* A per-stage breakdown (backbone, neck, RPN head, proposals, box RoI
  extractor and head, DensePose RoI extractor (with the DensePose decoder
  when the config has one) and head, predictor, chart decoding) comes from
  one extra profiled forward per variant (``torch.profiler`` ranges: the
  detector's own, plus ranges this script puts around the RoI head's
  submodules). Stage times are inclusive and overlap ``roi_head``.
* ``--csi mmfi piw``: the cross-modal student, a modality translation
  network (MTN) on CSI of the MM-Fi (3x114x10) or Person-in-WiFi (150x3x3)
  shape followed by the detector on its image-like output.
* Without a checkpoint the model keeps its random initialisation; a
  backbone whose pretrained file is missing is built with ``init_cfg=None``
  (with a printed note). With ``--shape H W``, or when the config's test
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
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch.profiler import ProfilerActivity, profile, record_function

from mmdensekd.models.layers import optimize_for_inference
from mmdensekd.models.layers.fast_inference import (
    inference_autocast,
    prediction_agreement,
    resolve_inference_dtype,
)
from mmdensekd.models.layers.roi_align import FastRoIAlign
from mmdensekd.registry import DATASETS, MODELS
from mmdensekd.utils import allow_mmengine_checkpoint_globals, register_all_modules

#: CSI layouts: amplitude shape (= phase shape) and the MTN output (H, W).
CSI_PRESETS = {
    'mmfi': dict(amp_shape=(3, 114, 10), out_size=(480, 640)),
    'piw': dict(amp_shape=(150, 3, 3), out_size=(720, 1280)),
}
#: Stage rows of the breakdown, in forward order.
STAGES = ('backbone', 'neck', 'rpn_head', 'rpn_proposals', 'box_roi_extractor', 'box_head',
          'densepose_roi_extractor', 'densepose_head', 'predictor', 'chart_decoding',
          'keypoint_roi_extractor', 'roi_head')


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
    parser.add_argument('--seed', type=int, default=0, help='seed of the synthetic image')
    parser.add_argument('--num-dets', type=int, default=None, metavar='N',
                        help='force N detections per image (score threshold 0)')
    parser.add_argument('--dtype', nargs='+', default=['fp32'], choices=['fp32', 'bf16', 'fp16'],
                        help='inference dtype of each variant (default: fp32)')
    parser.add_argument('--baseline', action='store_true',
                        help='also time the plain fp32 model (mmcv RoIAlign, no BN folding)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last parameters and inputs in the variants')
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


# --------------------------------------------------------------------- config
def detector_cfg(cfg: Config) -> dict:
    """The detector to benchmark: ``cfg.model``, or the student of a
    distiller config (with a ``DetDataPreprocessor`` of the same image
    statistics)."""
    model = copy.deepcopy(cfg.model)
    if 'student' not in model:
        return model
    student = copy.deepcopy(model['student'])
    pre = model.get('data_preprocessor') or {}
    student['data_preprocessor'] = dict(
        type='DetDataPreprocessor', mean=pre.get('mean'), std=pre.get('std'),
        bgr_to_rgb=pre.get('bgr_to_rgb', False), pad_size_divisor=pre.get('pad_size_divisor', 1))
    return student


def force_num_dets(model_cfg: dict, num: int) -> None:
    """Make every image give exactly ``num`` detections (see module doc)."""
    test_cfg = model_cfg['test_cfg']
    rcnn, rpn = test_cfg['rcnn'], test_cfg['rpn']
    rcnn.update(score_thr=0.0, max_per_img=num)
    rcnn['nms'] = dict(rcnn.get('nms') or dict(type='nms'), iou_threshold=1.0)
    rpn['max_per_img'] = max(rpn.get('max_per_img', num), num)
    rpn['nms_pre'] = max(rpn.get('nms_pre', num), num)


def drop_missing_pretrained(model_cfg: dict) -> Optional[str]:
    """Set ``backbone.init_cfg=None`` when its pretrained file is missing;
    returns the note to print."""
    backbone = model_cfg.get('backbone') or {}
    init_cfg = backbone.get('init_cfg')
    path = init_cfg.get('checkpoint') if isinstance(init_cfg, dict) else None
    if path and not str(path).startswith(('http://', 'https://')) and osp.isfile(path):
        return None
    if init_cfg is None:
        return None
    backbone['init_cfg'] = None
    return (f'note: backbone pretrained weights {path} not found; random init '
            '(backbone.init_cfg=None)')


# --------------------------------------------------------------------- models
def restore_mmcv_roi_align(model: torch.nn.Module) -> int:
    """Put mmcv's ``RoIAlign`` back in place of ``FastRoIAlign`` (baseline)."""
    count = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, FastRoIAlign):
                setattr(parent, name, RoIAlign(
                    child.output_size, spatial_scale=child.spatial_scale,
                    sampling_ratio=child.sampling_ratio, pool_mode=child.pool_mode,
                    aligned=child.aligned, use_torchvision=child.use_torchvision))
                count += 1
    return count


def build_variants(model: torch.nn.Module, args: argparse.Namespace) -> Dict[str, dict]:
    """Name -> dict(model, dtype) of the variants, first one the reference."""
    variants = {}
    if args.baseline:
        base = copy.deepcopy(model).eval()
        restore_mmcv_roi_align(base)
        variants['baseline fp32'] = dict(model=base, dtype=None, summary='mmcv RoIAlign')
    for name in dict.fromkeys(args.dtype):
        m = copy.deepcopy(model)
        summary = optimize_for_inference(m, inference_dtype=name, fuse_bn=not args.no_fuse_bn,
                                         channels_last=args.channels_last)
        label = name + (' channels-last' if args.channels_last else '')
        if args.autocast_stages and name != 'fp32':
            for sub in m.modules():
                if hasattr(sub, 'autocast_stages'):
                    sub.autocast_stages = tuple(args.autocast_stages)
            label += ' (' + ','.join(args.autocast_stages) + ')'
        fast = sum(isinstance(x, FastRoIAlign) for x in m.modules())
        variants[label] = dict(model=m, dtype=resolve_inference_dtype(name),
                               summary=f'{summary["fused_bn"]} BN folded, '
                               f'{fast} fast RoIAlign')
    return variants


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


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _run_image(variant: dict, batch: dict) -> List[DetDataSample]:
    data_samples = [copy.deepcopy(s) for s in batch['data_samples']]
    return variant['model'](batch['inputs'], data_samples, mode='predict')


def _run_csi(variant: dict, batch: dict) -> List[DetDataSample]:
    model, mtn = variant['model'], variant['mtn']
    device = batch['amp'].device
    with inference_autocast(device.type, variant['dtype']):
        img = mtn(batch['amp'], batch['phase'])
    img = F.pad(img.float(), batch['pad'])
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
    with torch.no_grad():
        for i in range(warmup + num_images):
            if run is None:
                batch = first.data_preprocessor(pseudo_collate([get_batch(i)]), False)
            else:
                batch = get_batch(i)
            for name, variant in variants.items():
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
    over one call of ``run``; the RoI head's submodules get ranges from
    forward hooks and its chart decoding from a wrapper, removed after."""
    roi = getattr(model, 'roi_head', None)
    handles: list = []
    wrapped = False
    if roi is not None:
        for attr, label in (('bbox_roi_extractor', 'box_roi_extractor'),
                            ('bbox_head', 'box_head'),
                            ('densepose_roi_extractor', 'densepose_roi_extractor'),
                            ('densepose_head', 'densepose_head'),
                            ('densepose_predictor', 'predictor'),
                            ('keypoint_roi_extractor', 'keypoint_roi_extractor')):
            if getattr(roi, attr, None) is not None:
                _add_range(getattr(roi, attr), label, handles)
        if hasattr(roi, 'predict_densepose'):
            method = roi.predict_densepose

            def decode(*a, **k):
                with record_function('chart_decoding'):
                    return method(*a, **k)

            roi.predict_densepose = decode
            wrapped = True
    try:
        with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            with record_function('forward'):
                run()
            total = time.perf_counter() - start
    finally:
        for h in handles:
            h.remove()
        if wrapped:
            del roi.predict_densepose
    ms = {label: 0.0 for label in STAGES}
    for evt in prof.key_averages():
        if evt.key in ms:
            ms[evt.key] += evt.cpu_time_total / 1000.0
    ms['forward (profiled)'] = total * 1000.0
    return ms


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


def summarize(times: Dict[str, List[float]]) -> Dict[str, dict]:
    """Median, mean, min, max (ms) per variant and median ratio to the first."""
    out = {}
    ref = None
    for name, ts in times.items():
        ms = [t * 1000 for t in ts]
        med = statistics.median(ms)
        ref = med if ref is None else ref
        out[name] = dict(median_ms=med, mean_ms=statistics.fmean(ms), min_ms=min(ms),
                         max_ms=max(ms), images_per_s=1000.0 / med, ratio=med / ref)
    return out


def _variant_table(title: str, stats: Dict[str, dict], variants: Dict[str, dict]) -> str:
    ref = next(iter(stats))
    rows = [(title, 'median ms', 'min ms', f'ratio to {ref}', 'setup')]
    for name, s in stats.items():
        rows.append((name, f'{s["median_ms"]:.1f}', f'{s["min_ms"]:.1f}', f'{s["ratio"]:.3f}',
                     variants[name].get('summary', '')))
    return format_table(rows)


def _stage_table(stages: Dict[str, Dict[str, float]]) -> str:
    names = list(stages)
    rows = [('stage (ms, one profiled forward)', *names)]
    for label in (*STAGES, 'forward (profiled)'):
        vals = [stages[n].get(label, 0.0) for n in names]
        if any(vals):
            rows.append((label, *[f'{v:.1f}' for v in vals]))
    return format_table(rows)


def _num_dets(results: Sequence[DetDataSample]) -> int:
    return sum(len(r.pred_instances) for r in results)


# ------------------------------------------------------------------ main
def build_model(model_cfg: dict, checkpoint: Optional[str]) -> torch.nn.Module:
    """Build the detector with random init or a local checkpoint (a
    distiller checkpoint gives its student's weights)."""
    model = MODELS.build(model_cfg)
    if checkpoint:
        if not osp.isfile(checkpoint):
            raise SystemExit(f'checkpoint {checkpoint} not found')
        allow_mmengine_checkpoint_globals()
        load_checkpoint(model, checkpoint, map_location='cpu',
                        revise_keys=[(r'^student\.', ''), (r'^module\.', '')])
    elif hasattr(model, 'init_weights'):
        model.init_weights()
    return model


def build_mtn(cfg: Config, preset: str) -> torch.nn.Module:
    """The config's student MTN (or the default MTN) at a CSI preset shape."""
    spec = CSI_PRESETS[preset]
    mtn_cfg = copy.deepcopy(cfg.model.get('student_mtn') or
                            dict(type='ModalityTranslationNetwork'))
    mtn_cfg.update(amp_shape=spec['amp_shape'], phase_shape=None, out_size=spec['out_size'])
    mtn = MODELS.build(mtn_cfg)
    mtn.init_weights()
    return mtn.eval()


def main(argv=None) -> Optional[dict]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))

    model_cfg = detector_cfg(cfg)
    if args.num_dets is not None:
        force_num_dets(model_cfg, args.num_dets)
    if not args.checkpoint:
        note = drop_missing_pretrained(model_cfg)
        if note:
            print(note)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # no per-parameter init report
    try:
        model = build_model(model_cfg, args.checkpoint).to(device).eval()
    finally:
        logger.setLevel(level)
    variants = build_variants(model, args)
    for v in variants.values():
        v['model'].to(device)

    with tempfile.TemporaryDirectory() as tmp_dir:
        if args.shape:
            get_sample, source = _synthetic_source(cfg, args.shape, args.seed, tmp_dir), \
                f'synthetic {args.shape[0]}x{args.shape[1]}'
        else:
            try:
                get_sample, source = _dataset_source(cfg), 'test dataset'
            except (FileNotFoundError, ValueError, OSError, KeyError) as e:
                raise SystemExit(f'cannot build the test dataset ({e}); pass --shape H W to '
                                 'benchmark on a synthetic image') from None
        times = benchmark_variants(variants, get_sample, args.num_images, args.warmup, device)
        batch = model.data_preprocessor(pseudo_collate([get_sample(0)]), False)

    stats = summarize(times)
    main_name = next(iter(stats))
    result = dict(stats[main_name], variants=stats)
    rows = [
        ('config', osp.basename(args.config)),
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
    print(_variant_table('image variant', stats, variants))

    with torch.no_grad():
        outputs = {name: _run_image(v, batch) for name, v in variants.items()}
    result['num_dets'] = {name: _num_dets(out) for name, out in outputs.items()}
    if args.check_agreement and len(variants) > 1:
        result['agreement'] = {}
        ref_name = main_name
        rows = [('agreement with ' + ref_name, 'matched', 'within 1 px', 'max box dev px',
                 'label agree', 'U/V mad (fg)', 'U/V mad (all)')]
        for name in list(variants)[1:]:
            agg = prediction_agreement(outputs[ref_name][0].pred_instances,
                                       outputs[name][0].pred_instances)
            result['agreement'][name] = agg
            rows.append((name, f'{int(agg["matched"])}/{int(agg["num_ref"])}',
                         f'{int(agg["within_1px"])}', f'{agg["max_box_dev"]:.3f}',
                         f'{agg.get("label_agreement", 1):.4f}',
                         f'{agg.get("uv_mad", 0):.4f}', f'{agg.get("uv_mad_all", 0):.4f}'))
        print(format_table(rows))

    if not args.no_profile:
        stages = {}
        for name, v in variants.items():
            stages[name] = profile_stages(v['model'], lambda v=v: _run_image(v, batch))
        result['stages'] = stages
        print(_stage_table(stages))

    for preset in args.csi:
        mtn = build_mtn(cfg, preset).to(device)
        for v in variants.values():
            v['mtn'] = copy.deepcopy(mtn)  # same weights in every variant
        csi = csi_batch(preset, args.seed)
        csi.update(amp=csi['amp'].to(device), phase=csi['phase'].to(device))
        csi_times = benchmark_variants(variants, lambda i: csi, args.num_images, args.warmup,
                                       device, run=_run_csi)
        csi_stats = summarize(csi_times)
        result[f'csi_{preset}'] = csi_stats
        spec = CSI_PRESETS[preset]
        print(_variant_table(
            f'CSI {preset} {"x".join(map(str, spec["amp_shape"]))} -> '
            f'{spec["out_size"][0]}x{spec["out_size"][1]}', csi_stats, variants))
    return result


if __name__ == '__main__':
    main()
