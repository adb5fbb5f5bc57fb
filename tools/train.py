# Copyright (c) mmdensekd contributors. All rights reserved.
"""Train a model from a config (mmdet 3.x / mmpose 1.x style).

Examples::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options key=value ...]
    bash tools/dist_train.sh CONFIG GPUS [args]      # --launcher pytorch

Before anything is built the config is checked (:func:`check_config`): an
unknown hook option is an error naming the hook, the key and the closest
valid option; a top-level key close to a runner key (``train_cfgg``) is a
warning naming the closest one, an error with ``--strict-config``.
"""
import argparse
import difflib
import inspect
import os
import os.path as osp
import warnings
from typing import List

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdensekd.utils import register_all_modules, setup_cpu_distributed
from mmdensekd.utils.checkpoint_compat import check_checkpoint_file
from mmdensekd.utils.cli import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a mmdensekd model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='scale the lr by the total batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or without a value from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs, e.g. '
        'train_cfg.max_iters=10 "model.backbone.depth=18"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--strict-config',
        action='store_true',
        help='make an unknown top-level config key close to a valid one (e.g. '
        'train_cfgg) an error instead of a warning')
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error instead of one line')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line options."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('--amp: automatic mixed precision needs a CUDA device; '
                             'none is available on this machine')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config.')
        else:
            if optim_wrapper != 'OptimWrapper':
                raise SystemExit(f'--amp is only supported with optim_wrapper.type='
                                 f"'OptimWrapper', got {optim_wrapper!r}")
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr \
                and 'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise SystemExit('--auto-scale-lr: the config needs auto_scale_lr = '
                             'dict(enable=False, base_batch_size=...)')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f'--resume: checkpoint {args.resume} not found')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


#: Top-level keys the runner (``Runner.from_cfg``) and the config system read.
RUNNER_KEYS = tuple(
    n for n in inspect.signature(Runner.__init__).parameters if n not in ('self', 'cfg')) + (
        'runner_type', 'custom_imports', '_base_', 'model_wrapper_cfg', 'compile',
        'vis_backends', 'cfg')


def _closest(name: str, valid) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.8)
    return f' (did you mean {close[0]!r}?)' if close else ''


def check_hook_options(cfg: Config) -> List[str]:
    """Options of ``default_hooks`` / ``custom_hooks`` their hook does not take.

    Args:
        cfg (Config): The full config.

    Returns:
        list[str]: One message per unknown option, naming the hook, the key
        and the closest valid option.
    """
    from mmdet.registry import HOOKS
    from mmengine.hooks import CheckpointHook

    entries = [(f'default_hooks.{k}', v) for k, v in (cfg.get('default_hooks') or {}).items()]
    entries += [(f'custom_hooks[{i}]', v) for i, v in enumerate(cfg.get('custom_hooks') or [])]
    problems = []
    for where, hook_cfg in entries:
        if not isinstance(hook_cfg, dict) or not isinstance(hook_cfg.get('type'), str):
            continue
        hook_cls = HOOKS.get(hook_cfg['type'])
        if hook_cls is None:
            problems.append(f'{where}: unknown hook type {hook_cfg["type"]!r}')
            continue
        params = {}
        for klass in hook_cls.__mro__:  # keyword arguments accepted up the chain
            init = vars(klass).get('__init__')
            if init is None:
                continue
            sig = inspect.signature(init).parameters
            params.update({n: p for n, p in sig.items() if n != 'self'})
            if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.values()):
                break
            if klass is CheckpointHook:  # its **kwargs only reach save_checkpoint
                break
        valid = [n for n, p in params.items()
                 if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]
        for key in hook_cfg:
            if key not in ('type', 'priority') and not key.startswith('_') and key not in valid:
                problems.append(f'{where}: {hook_cfg["type"]} has no option {key!r}'
                                + _closest(key, valid))
    return problems


def check_config(cfg: Config, strict: bool = False) -> None:
    """Check the config before anything is built.

    Hook options are always checked (an unknown one is an error naming the
    hook, the key and the closest valid option). A top-level key that is not
    a runner key but close to one (``train_cfgg``) would be silently ignored
    by the runner: it is reported with the closest valid name, as a warning,
    or with ``strict`` as an error. Other top-level keys are config variables
    (``data_root``, ``train_pipeline``...) and are left alone.

    Args:
        cfg (Config): The config.
        strict (bool): Misspelt top-level keys are errors.

    Raises:
        SystemExit: On a hook option problem, or a misspelt key with ``strict``.
    """
    problems = check_hook_options(cfg)
    if problems:
        raise SystemExit('config error:\n  ' + '\n  '.join(problems))
    misspelt = []
    for key in cfg.keys():
        if key in RUNNER_KEYS:
            continue
        hint = _closest(key, RUNNER_KEYS)
        if hint:
            misspelt.append(f'unknown top-level config key {key!r}{hint}; the runner ignores it')
    if misspelt and strict:
        raise SystemExit('config error (--strict-config):\n  ' + '\n  '.join(misspelt))
    for msg in misspelt:
        warnings.warn(msg + ' (--strict-config makes this an error)', stacklevel=1)


def main(argv=None) -> None:
    args = parse_args(argv)
    run_cli(run, args, 'tools/train.py', debug=args.debug)

def run(args: argparse.Namespace) -> None:
    """Check the config, build the runner and train."""
    # registers all modules and allow-lists the globals of mmengine resume
    # checkpoints for torch.load(weights_only=True)
    register_all_modules(init_default_scope=False)
    cfg = build_cfg(args)
    check_config(cfg, strict=args.strict_config)
    if cfg.get('load_from'):
        # a truncated checkpoint is named here, not by torch's anonymous error
        check_checkpoint_file(cfg.load_from)
    setup_cpu_distributed(cfg, args.launcher)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
