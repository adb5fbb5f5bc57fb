# Copyright (c) mmdensekd contributors. All rights reserved.
"""What limits the WiFi student: one change at a time, student and control
side by side, on the quickstart's world (in the spirit of the ablation
tables of DensePose From WiFi).

    python tools/misc/student_ablation.py [--work-dir work_dirs/quickstart]
        [--rows no-transfer transfer-x10 half-data from-scratch iters-2000] [--jobs 2]

Needs a finished quickstart in ``--work-dir`` (its data, teacher checkpoint,
pseudo labels and seed are reused; run ``tools/misc/quickstart.py`` first).
Each row trains the quickstart's student and its shuffled-CSI control with
one change (:data:`ROWS`), tests both on val with the config its run wrote,
and the table (``ablation/summary.md`` / ``summary.json``) puts them under
the quickstart's own student and control (the unchanged recipe: same
configs, seed and machine, so the same numbers as a rerun). Rows are stages:
a finished row is skipped when run again.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

from mmdensekd.apis import StageRunner

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import quickstart as qs  # noqa: E402

_TRANSFER = 'model.distiller.distill_losses.loss_transfer.loss_weight'
#: row name -> (what changes, ``--cfg-options`` on top of the quickstart's
#: student options; ``iters`` replaces the schedule).
ROWS = {
    'no-transfer': ('no feature transfer loss (0.1 -> 0)', [f'{_TRANSFER}=0.0']),
    'transfer-x10': ('feature transfer loss x10 (0.1 -> 1.0)', [f'{_TRANSFER}=1.0']),
    'keypoint-x3': ('keypoint loss x3 (0.3 -> 0.9)',
                    ['model.student.detector.roi_head.keypoint_head.loss_keypoint.'
                     'loss_weight=0.9']),
    'half-data': ('half the training frames (the first 300 of 600)',
                  ['train_dataloader.dataset.indices=300']),
    'from-scratch': ("detector from random weights, one learning rate (the paper's)",
                     ['model.student.detector.init_cfg=None',
                      'optim_wrapper.paramwise_cfg=None']),
    'iters-2000': ('2000 iterations instead of 1000', [], 2000),
    # the two changes that helped, together (not one change: the best found)
    'transfer-x10-iters-2000': ('transfer loss x10 and 2000 iterations (both above)',
                                [f'{_TRANSFER}=1.0'], 2000),
}
DEFAULT_ROWS = ('no-transfer', 'transfer-x10', 'half-data', 'from-scratch', 'iters-2000')
COLUMNS = ('box AP', 'box AP50', 'kpt AP', 'GPS AP')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--work-dir', default='work_dirs/quickstart',
                   help='a finished quickstart run')
    p.add_argument('--rows', nargs='+', default=list(DEFAULT_ROWS), choices=sorted(ROWS))
    p.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1),
                   help='student and control side by side')
    p.add_argument('--python', default=sys.executable)
    p.add_argument('--force', nargs='*', default=[], help='rows to rerun')
    return p.parse_args(argv)


def row_options(name: str, base_iters: int) -> List[str]:
    """The ``--cfg-options`` of row ``name`` (schedule included)."""
    _, opts, *iters = ROWS[name]
    return qs.schedule_options(iters[0] if iters else base_iters) + list(opts)


def quickstart_inputs(wd: str) -> dict:
    """Seed, iterations, teacher checkpoint and data of a finished
    quickstart run in ``wd`` (a clear error if it has not finished)."""
    path = osp.join(wd, 'summary.json')
    if not osp.isfile(path):
        raise SystemExit(f'[student_ablation] {path} not found: run tools/misc/quickstart.py '
                         f'--work-dir {wd} first')
    with open(path) as f:
        done = json.load(f)
    cfg_file = qs.trained_config(osp.join(wd, 'student'), qs.STUDENT_CFG)
    from mmengine.config import Config
    cfg = Config.fromfile(cfg_file)
    return dict(summary=done['summary']['val'], seed=done['meta']['seed'],
                iters=cfg.train_cfg.max_iters, t_ckpt=cfg.model.teacher_ckpt,
                data=cfg.train_dataloader.dataset.data_root.rstrip('/'))


def write_table(out_dir: str, base: Dict[str, dict], rows: Dict[str, Dict[str, dict]],
                meta: dict) -> str:
    """``summary.md``: one line per row, student | control."""
    head = ' | '.join(f'student {c}' for c in COLUMNS) + ' | ' + ' | '.join(
        f'control {c}' for c in COLUMNS)
    lines = ['# What limits the WiFi student (val, one change per row)', '',
             f"seed {meta['seed']}, {meta['machine']}, {meta['wall_min']:.1f} min", '',
             f'| row | change | {head} |', '|' + '---|' * (2 + 2 * len(COLUMNS))]
    for name, res in [('quickstart', base)] + list(rows.items()):
        what = 'the quickstart student (unchanged)' if name == 'quickstart' else ROWS[name][0]
        cells = [f"{res[r][c]:.3f}" for r in ('student', 'control') for c in COLUMNS]
        lines.append(f'| {name} | {what} | ' + ' | '.join(cells) + ' |')
    md = osp.join(out_dir, 'summary.md')
    with open(md, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return md


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    wd = osp.join(qs.ROOT, args.work_dir) if not osp.isabs(args.work_dir) else args.work_dir
    inputs = quickstart_inputs(wd)
    out = osp.join(wd, 'ablation')
    os.makedirs(out, exist_ok=True)
    stages = StageRunner(out, args.force, name='student_ablation')
    data, t_ckpt = inputs['data'], inputs['t_ckpt']
    common = [f'model.teacher_ckpt={t_ckpt}', f'model.student.detector.init_cfg.checkpoint='
              f'{t_ckpt}'] + qs.data_options(data, True) + [f"randomness.seed={inputs['seed']}"]
    threads = max(1, (os.cpu_count() or 1) // max(args.jobs, 1)) if args.jobs > 1 else None
    results = {}
    for name in args.rows:
        changes = row_options(name, inputs['iters'])
        scratch = 'model.student.detector.init_cfg=None' in changes
        opts = [o for o in common if not (scratch and o.startswith(
            'model.student.detector.init_cfg'))] + changes
        r_dir = osp.join(out, name)

        def train_and_test(r_dir=r_dir, opts=opts) -> dict:
            runs = []
            for run, ann in (('student', 'annotations/pseudo_train.json'),
                             ('control', 'annotations/pseudo_train_csi-shuffled.json')):
                cmd = [args.python, 'tools/train.py', qs.STUDENT_CFG, '--work-dir',
                       osp.join(r_dir, run), '--cfg-options',
                       f'train_dataloader.dataset.ann_file={ann}'] + opts
                runs.append((run, cmd))
            stage = StageRunner(r_dir, [], name='student_ablation')
            stage.run_parallel([(run, qs.digest(run, cmd), lambda cmd=cmd, run=run: qs.run_cmd(
                cmd, log=osp.join(r_dir, run, 'train.log'), threads=threads))
                for run, cmd in runs], args.jobs)
            tests = []
            for run, _ in runs:
                cfg = qs.trained_config(osp.join(r_dir, run), qs.STUDENT_CFG)
                ckpt = qs.last_checkpoint(osp.join(r_dir, run))
                e_dir = osp.join(r_dir, 'eval', run)
                cmd = [args.python, 'tools/test.py', cfg, ckpt, '--work-dir', e_dir,
                       '--cfg-options'] + qs.split_options(data, 'val')
                tests.append((f'eval_{run}', qs.digest('eval', ckpt, cfg),
                              lambda cmd=cmd, e_dir=e_dir: qs.evaluate(cmd, e_dir, threads)))
            student, control = stage.run_parallel(tests, args.jobs)
            return dict(student=student, control=control)

        results[name] = stages.run(name, qs.digest(name, opts, qs.STUDENT_CFG), train_and_test)
        res = results[name]
        qs.say(f'  {name:14s} student ' + '  '.join(
            f"{k} {res['student'][k]:.3f}" for k in COLUMNS) + ' | control ' + '  '.join(
            f"{k} {res['control'][k]:.3f}" for k in COLUMNS))
    meta = dict(seed=inputs['seed'], machine=f'{os.cpu_count()} CPU cores',
                wall_min=sum(stages.times.values()) / 60)
    base = {r: inputs['summary'][r] for r in ('student', 'control')}
    md = write_table(out, base, results, meta)
    with open(osp.join(out, 'summary.json'), 'w') as f:
        json.dump(dict(quickstart=base, rows=results, meta=meta), f, indent=1)
    print(open(md).read())
    return 0


if __name__ == '__main__':
    sys.exit(main())
