# Copyright (c) mmdensekd contributors. All rights reserved.
"""Over-fit a tiny Keypoint R-CNN on real images and print keypoint AP before/after.

    python tools/analysis/overfit_keypoints.py \
        [--config configs/keypoint_rcnn/keypoint-rcnn_tiny_cpu_coco-tiny.py] \
        [--iters 300] [--device cpu] [--out work_dirs/overfit_keypoints/result.json]

The config's train and val sets are the same few real COCO images with their
real keypoints (``tests/data/coco_tiny``), so a model whose keypoint branch
learns must end clearly above where it started. The model is evaluated
(COCO OKS keypoint AP of its own detections, plus box AP) before training
and after ``--iters`` iterations of the config's optimiser and schedule.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, DefaultScope
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = 'configs/keypoint_rcnn/keypoint-rcnn_tiny_cpu_coco-tiny.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='tiny keypoint config')
    parser.add_argument('--iters', type=int, default=None,
                        help='training iterations (default: the config\'s max_iters)')
    parser.add_argument('--eval-interval', type=int, default=0,
                        help='also evaluate every N iterations (0: only before / after)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='optional JSON file for the numbers')
    return parser.parse_args(argv)


def evaluate(model, dataloader, evaluator: Evaluator) -> Dict[str, float]:
    """Keypoint and box metrics of ``model`` on ``dataloader``."""
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            outputs = model.test_step(batch)
            evaluator.process(data_samples=outputs, data_batch=batch)
    model.train()
    return evaluator.evaluate(len(dataloader.dataset))


def _summary(metrics: Dict[str, float]) -> str:
    keys = ('coco-keypoint/AP', 'coco-keypoint/AP .5', 'coco-keypoint/AR', 'coco/bbox_mAP')
    return ', '.join(f'{k}={metrics[k]:.3f}' for k in keys if k in metrics)


def main(argv=None) -> dict:
    args = parse_args(argv)
    os.chdir(ROOT)  # the tiny configs use repository-relative data paths
    cfg = Config.fromfile(args.config)
    DefaultScope.get_instance(f'overfit_keypoints_{time.time()}',
                              scope_name=cfg.get('default_scope', 'mmdet'))
    from mmdensekd.utils import register_all_modules
    register_all_modules()
    # make sure the metric registers even if the package __init__ does not list it
    from mmdet.registry import MODELS

    import mmdensekd.evaluation.metrics.rcnn_keypoint_metric  # noqa: F401

    torch.manual_seed(args.seed)
    iters = args.iters if args.iters is not None else int(cfg.train_cfg.max_iters)
    device = torch.device(args.device)

    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device)
    if not getattr(model, 'with_keypoint', False) and not getattr(
            getattr(model, 'roi_head', None), 'with_keypoint', False):
        raise ValueError(f'{args.config}: the model has no keypoint branch')

    train_loader = Runner.build_dataloader(cfg.train_dataloader, seed=args.seed)
    val_loader = Runner.build_dataloader(cfg.val_dataloader, seed=args.seed)
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = val_loader.dataset.metainfo

    t0 = time.time()
    before = evaluate(model, val_loader, evaluator)
    print(f'[overfit] before training: {_summary(before)}', flush=True)

    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=optim_wrapper)) for s in cfg.param_scheduler
    ]
    history = []
    step = 0
    while step < iters:
        for batch in train_loader:
            data = model.data_preprocessor(batch, True)
            losses = model(**data, mode='loss')
            loss, log_vars = model.parse_losses(losses)
            optim_wrapper.update_params(loss)
            for scheduler in schedulers:
                scheduler.step()
            step += 1
            if step % 10 == 0 or step == 1:
                print(f'[overfit] iter {step}/{iters}: loss={loss.item():.4f} '
                      f'loss_keypoint={float(log_vars.get("loss_keypoint", 0.0)):.4f} '
                      f'({time.time() - t0:.0f}s)', flush=True)
            if args.eval_interval and step % args.eval_interval == 0 and step < iters:
                mid = evaluate(model, val_loader, evaluator)
                history.append(dict(iter=step, **mid))
                print(f'[overfit] iter {step}: {_summary(mid)}', flush=True)
            if step >= iters:
                break

    after = evaluate(model, val_loader, evaluator)
    print(f'[overfit] before training: {_summary(before)}')
    print(f'[overfit] after {iters} iterations: {_summary(after)}')
    print(f'[overfit] keypoint AP {before["coco-keypoint/AP"]:.3f} -> '
          f'{after["coco-keypoint/AP"]:.3f} ({time.time() - t0:.0f}s on {device})')
    result = dict(config=args.config, iters=iters, device=str(device), before=before,
                  after=after, history=history)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    result = main()
    sys.exit(0 if result['after']['coco-keypoint/AP'] > result['before']['coco-keypoint/AP']
             else 1)
