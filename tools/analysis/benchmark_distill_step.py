# Copyright (c) mmdensekd contributors. All rights reserved.
"""Step time of distillation (teacher + student) against the student alone.

    python tools/analysis/benchmark_distill_step.py CONFIG [--iters 10] \
        [--warmup 2] [--device cpu] [--cfg-options model.teacher_ckpt=...]

Builds the ``TeacherStudentDistiller`` of CONFIG, its train dataloader and
optimiser, then times full training steps (data preprocessing, forward,
backward, optimiser step) in ONE process on the SAME batches, alternating:

* ``distill``: teacher forward (no grad) + student + distillation losses;
* ``student``: every distillation scale set to 0, so with ``supervision='gt'``
  the distiller skips the teacher; the student (MTN included) trains on its
  own losses alone.

Prints the median step times and their ratio ``distill / student``.
"""
import argparse
import json
import statistics
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmdensekd.registry import MODELS
from mmdensekd.utils import register_all_modules


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark distillation step time')
    parser.add_argument('config', help='distillation config')
    parser.add_argument('--iters', type=int, default=10, help='timed steps per mode')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per mode')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', help='write the result as json here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed_step(model, data, optim_wrapper, device: str) -> float:
    """Seconds of one ``train_step``."""
    _sync(device)
    start = time.perf_counter()
    model.train_step(data, optim_wrapper)
    _sync(device)
    return time.perf_counter() - start


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'set_distill_loss_scale'):
        raise TypeError(f'{args.config}: model {type(model).__name__} is not a distiller')
    if model.supervision != 'gt':
        print("note: supervision='teacher' runs the teacher in both modes (pseudo labels)")
    model.init_weights()
    model.to(args.device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batches = iter(loader)

    times = {'distill': [], 'student': []}
    for step in range(args.warmup + args.iters):
        data = next(batches)
        for mode in ('distill', 'student'):  # same batch, both modes, alternating
            model.set_distill_loss_scale(1.0 if mode == 'distill' else 0.0)
            seconds = timed_step(model, data, optim_wrapper, args.device)
            if step >= args.warmup:
                times[mode].append(seconds)
    result = {m: statistics.median(t) for m, t in times.items()}
    result['ratio'] = result['distill'] / result['student']
    result.update(iters=args.iters, device=str(args.device),
                  batch_size=cfg.train_dataloader.get('batch_size'), config=args.config)
    print(f"step time, median of {args.iters} on {args.device}: "
          f"distill (teacher + student) {result['distill']:.3f} s, "
          f"student alone {result['student']:.3f} s, ratio {result['ratio']:.2f}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
