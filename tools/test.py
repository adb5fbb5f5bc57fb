# Copyright (c) mmdensekd contributors. All rights reserved.
"""Test (evaluate) a checkpoint (mmdet 3.x style, plus mmpose 0.x ``--eval``).

Examples::

    python tools/test.py CONFIG CKPT --eval bbox densepose
    python tools/test.py CONFIG CKPT --out results.pkl      # raw predictions
    python tools/test.py CONFIG CKPT --eval densepose --out dp_results.json
    bash tools/dist_test.sh CONFIG CKPT GPUS --eval bbox keypoints densepose

``--eval`` names: ``bbox`` (COCO box AP), ``keypoints`` (COCO keypoint AP;
``mAP`` as in mmpose 0.x is an alias) and ``densepose`` (GPS / GPSm / IOU
AP). Without ``--eval`` the config's ``test_evaluator`` is used.

The checkpoint must fit the model: shape mismatches or missing keys are an
error naming the first keys (``--allow-partial`` loads the matching ones).
Test mode never skips an image (``skip_invalid_densepose`` only acts in
training): invalid data is an error. Errors of the data, checkpoint or config
print one line naming the file and exit non-zero (``--debug``: traceback).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdensekd.apis.eval_args import EVAL_METRICS, eval_to_evaluators
from mmdensekd.models.layers.fast_inference import enable_stage_autocast, find_two_stage_detectors
from mmdensekd.utils import register_all_modules, setup_cpu_distributed
from mmdensekd.utils.checkpoint_compat import check_checkpoint_file, load_checkpoint_strict
from mmdensekd.utils.cli import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a mmdensekd model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and evaluation results')
    parser.add_argument(
        '--eval',
        type=str,
        nargs='+',
        metavar='METRIC',
        help=f'metrics to evaluate, any of: {", ".join(EVAL_METRICS)} (replaces the '
        "config's test_evaluator); e.g. --eval bbox densepose")
    parser.add_argument(
        '--out',
        type=str,
        help='a .pkl file to dump the raw predictions to, or a .json file for the '
        'DensePose results in the COCO DensePose challenge format')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory (inside the work dir) where painted images are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--inference-dtype',
        choices=['fp32', 'bf16', 'fp16'],
        help='autocast dtype of the DensePoseRCNN predict (bf16 on CPUs with AMX; NMS and '
        'decoding stay in fp32)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='evaluate even when the checkpoint does not fit the model (shape mismatches, '
        'missing keys): only the matching weights are loaded; without it such a '
        'checkpoint is an error naming the keys')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the full traceback of an error instead of one line')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _has_densepose_metric(evaluator) -> bool:
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    return any(isinstance(m, dict) and str(m.get('type', '')).endswith('DensePoseMetric')
               for m in metrics)


#: ``roi_head`` capability each metric needs (checked before inference).
METRIC_NEEDS = {'CocoKeypointMetric': ('with_keypoint', 'a keypoint head'),
                'DensePoseMetric': ('with_densepose', 'a DensePose head')}


def check_metric_requirements(model, evaluator) -> None:
    """Fail before inference when a metric needs a branch the model lacks.

    The predicting model's RoI heads (a distiller's teacher excluded) are
    asked for ``with_keypoint`` / ``with_densepose``; models without such a
    head (e.g. an mmpose estimator) are not checked.

    Args:
        model (nn.Module): The built model (maybe wrapped).
        evaluator: The ``test_evaluator`` config (dict or list of dicts).

    Raises:
        SystemExit: naming the metric and the missing head.
    """
    model = getattr(model, 'module', model)
    heads = [m for name, m in model.named_modules()
             if not name.startswith('teacher') and hasattr(type(m), 'with_keypoint')
             and hasattr(type(m), 'with_densepose')]
    if not heads:
        return
    for metric in evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]:
        mtype = str(metric.get('type', '')).split('.')[-1] if isinstance(metric, dict) else ''
        if mtype in METRIC_NEEDS:
            attr, what = METRIC_NEEDS[mtype]
            if not any(getattr(h, attr) for h in heads):
                raise SystemExit(f'{mtype} needs {what}, but the model '
                                 f'({type(model).__name__}) has none: drop that metric '
                                 '(--eval) or use a config whose roi_head has it')


def set_inference_dtype(model, inference_dtype: str) -> int:
    """Run every two-stage detector of ``model`` (a DensePose R-CNN, a CSI
    student's detector, a distillation algorithm's student and teacher) in
    ``inference_dtype``; returns how many."""
    detectors = find_two_stage_detectors(model)
    if not detectors:
        raise SystemExit(f'--inference-dtype: {type(model).__name__} holds no two-stage '
                         'detector to run in reduced precision')
    for detector in detectors:
        enable_stage_autocast(detector, inference_dtype)
    return len(detectors)


def build_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line options."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} not found')
    cfg.load_from = args.checkpoint

    json_out = None
    if args.out is not None:
        if args.out.endswith('.json'):
            json_out = args.out
        elif not args.out.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--out must end with .pkl/.pickle (raw predictions) or .json '
                             f'(DensePose results), got {args.out}')

    if args.eval:
        try:
            cfg.test_evaluator = eval_to_evaluators(cfg, args.eval, 'test', outfile=json_out)
        except ValueError as e:
            raise SystemExit(str(e)) from None
    elif json_out is not None:
        evaluator = cfg.get('test_evaluator')
        metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
        if not _has_densepose_metric(metrics):
            raise SystemExit('--out X.json writes DensePose results: add --eval densepose '
                             'or a DensePoseMetric to test_evaluator')
        for m in metrics:
            if isinstance(m, dict) and str(m.get('type', '')).endswith('DensePoseMetric'):
                m['outfile_path'] = json_out

    if args.show or args.show_dir:
        hooks = cfg.setdefault('default_hooks', {})
        if 'visualization' not in hooks:
            raise SystemExit('--show/--show-dir need default_hooks.visualization')
        hooks['visualization']['draw'] = True
        if args.show:
            hooks['visualization']['show'] = True
            hooks['visualization']['wait_time'] = args.wait_time
        if args.show_dir:
            hooks['visualization']['test_out_dir'] = args.show_dir
            hooks['visualization']['interval'] = 1  # every image, GT beside prediction
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    run_cli(run, args, 'tools/test.py', debug=args.debug)

def run(args: argparse.Namespace) -> None:
    """Build the runner, check the checkpoint fits the model, test."""
    register_all_modules(init_default_scope=False)
    cfg = build_cfg(args)
    check_checkpoint_file(args.checkpoint)  # a truncated file, named before any build
    setup_cpu_distributed(cfg, args.launcher)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    check_metric_requirements(runner.model, cfg.get('test_evaluator'))
    # a checkpoint of another architecture is an error naming the keys (the
    # runner itself loads non-strictly and would evaluate a half-random model)
    load_checkpoint_strict(runner.model, args.checkpoint, allow_partial=args.allow_partial,
                           load=False)
    if getattr(args, 'inference_dtype', None):
        set_inference_dtype(runner.model, args.inference_dtype)

    if args.out is not None and not args.out.endswith('.json'):
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
