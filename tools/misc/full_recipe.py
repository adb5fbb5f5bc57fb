# Copyright (c) mmdensekd contributors. All rights reserved.
"""The full recipe (second tier, beside the quickstart): a WiFi student that
learns pose, in the world of people who move, with the sensing that holds the
most pose, against a control that gets the wrong WiFi.

    python tools/misc/full_recipe.py [--work-dir work_dirs/full_recipe] [--seed 0]
        [--sensing person-in-wifi-3d-4w] [--num-train 2000] [--num-val 400]
        [--sequence-frames 10] [--teacher-iters 1600] [--student-iters 3000] ...

Stages (the quickstart's building blocks, ``tools/misc/quickstart.py``; a
stage whose inputs did not change is skipped):

1. ``data``: the sequence world (``make_synthetic_wifi_densepose.py
   --sequence-frames``, one person performing an activity per sequence,
   train / val split by sequence) with the chosen sensing (``--sensing``);
   the generator writes the CSI statistics into ``meta.json``.
2. ``teacher``: the quickstart's image teacher config on this world's frames.
3. ``pseudo``: the teacher's pseudo labels (``generate_pseudo_labels.py``).
4. ``student`` / ``control``: the recipe's student config
   (``configs/distill/kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-3000i_synthetic-wifi-seq.py``),
   and the same on CSI permuted across frames, side by side.
5. ``eval``: teacher (image), student and control (CSI) on ``val`` and
   ``heldout``; ``report``: ``summary.md`` / ``summary.json`` with the
   student / teacher ratios and the issue's bars, loss curves and pictures.

Defaults are the 2-hour CPU tier (2-core CPU; never run end to end on the
development machine, see the README); ``--tiny`` is a smoke run of a few
minutes that only shows the stages work.
"""
import argparse
import json
import os
import os.path as osp
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

from mmdensekd.apis import StageRunner

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import quickstart as qs  # noqa: E402

ROOT = qs.ROOT
STUDENT_CFG = ('configs/distill/'
               'kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-3000i_synthetic-wifi-seq.py')
TEACHER_CFG = qs.TEACHER_CFG
SPLITS = ('val', 'heldout')
#: ``--tiny``: a smoke run of the stages (minutes), not a result.
TINY = dict(num_train=40, num_val=20, num_heldout=10, teacher_iters=20, student_iters=20,
            num_pictures=2, pseudo_score_thr=0.05)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmdensekd.simulation.writer import SENSING
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--work-dir', default='work_dirs/full_recipe')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--sensing', default='person-in-wifi-3d-4w', choices=sorted(SENSING))
    p.add_argument('--num-train', type=int, default=2000)
    p.add_argument('--num-val', type=int, default=400)
    p.add_argument('--num-heldout', type=int, default=100)
    p.add_argument('--sequence-frames', type=int, default=10,
                   help='frames per activity sequence (10 frames/s)')
    p.add_argument('--teacher-iters', type=int, default=1600)
    p.add_argument('--student-iters', type=int, default=3000)
    p.add_argument('--pseudo-score-thr', type=float, default=0.8)
    p.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--num-pictures', type=int, default=6)
    p.add_argument('--tiny', action='store_true', help='smoke run: ' + str(TINY))
    p.add_argument('--python', default=sys.executable)
    p.add_argument('--force', nargs='*', default=[], help='stages to rerun')
    args = p.parse_args(argv)
    if args.tiny:
        for key, value in TINY.items():
            setattr(args, key, value)
    return args


def sensing_options(cfg, sensing: str) -> List[str]:
    """``--cfg-options`` that switch a paired student config (``cfg``, an
    mmengine Config) to another sensing: the MTN's layout, the CSI loader's
    shape and the sanitiser's arguments in every paired pipeline, the
    datasets' layout check (training and test data; the recipe trains
    without validation)."""
    from mmdensekd.simulation.writer import SENSING
    from mmdensekd.structures.csi_layout import CSI_LAYOUTS
    layout = CSI_LAYOUTS[SENSING[sensing]['csi_layout']]
    san = layout.sanitize_kwargs()
    opts = [f'model.student.mtn.csi_layout={layout.name}',
            f'model.student.mtn.amp_shape={json.dumps(list(layout.shape))}']
    for loader in ('train_dataloader', 'test_dataloader'):  # training runs without val
        opts.append(f'{loader}.dataset.csi_layout={layout.name}')
        for i, step in enumerate(cfg[loader].dataset.pipeline):
            key = f'{loader}.dataset.pipeline.{i}'
            if step['type'] == 'LoadCSIFromFile':
                opts.append(f'{key}.expected_shape={json.dumps(list(layout.shape))}')
            elif step['type'] == 'CSIPhaseSanitize':
                opts += [f'{key}.subcarrier_axis={san["subcarrier_axis"]}',
                         f'{key}.packet_axis={san["packet_axis"]}',
                         f'{key}.view_shape=' + (json.dumps(list(san['view_shape']))
                                                 if 'view_shape' in san else 'None')]
    return [o.replace(' ', '') for o in opts]


def generator_flags(args: argparse.Namespace, data_root: str) -> List[str]:
    """Flags of ``make_synthetic_wifi_densepose.py`` for the recipe's world."""
    return ['--out-dir', data_root, '--sensing', args.sensing, '--sequence-frames',
            str(args.sequence_frames), '--num-train', str(args.num_train), '--num-val',
            str(args.num_val), '--num-test-layout', str(args.num_heldout), '--max-people', '1',
            '--min-people', '1', '--stations', '6', '--heading-jitter', '20', '--img-size',
            '256', '192', '--seed', str(args.seed), '--workers', '2']


def ratio_bars(summary: dict) -> List[str]:
    """The issue's bars for the full recipe on val: student / teacher ratios
    and the control near zero."""
    val = summary['val']
    s, c, t = val['student'], val['control'], val['teacher']
    lines = []
    for key, need in (('box AP', 0.5), ('kpt AP', 0.3), ('GPS AP', 0.3)):
        ratio = s[key] / t[key] if t[key] > 0 else float('nan')
        lines.append(f"[{'PASS' if ratio >= need else 'FAIL'}] student {key} {s[key]:.3f} = "
                     f'{ratio:.3f} x teacher {t[key]:.3f} (>= {need}x)')
    near_zero = all(c[k] < 0.1 * max(t[k], 1e-9) for k in ('box AP', 'kpt AP', 'GPS AP'))
    lines.append(f"[{'PASS' if near_zero else 'FAIL'}] control near zero (< 0.1x teacher): "
                 + ', '.join(f'{k} {c[k]:.3f}' for k in ('box AP', 'kpt AP', 'GPS AP')))
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    from mmengine.config import Config
    args = parse_args(argv)
    py = args.python
    wd = osp.join(ROOT, args.work_dir) if not osp.isabs(args.work_dir) else args.work_dir
    data = osp.join(wd, 'data')
    os.makedirs(wd, exist_ok=True)
    stages = StageRunner(wd, args.force, name='full_recipe')

    gen_flags = generator_flags(args, data)
    k_data = qs.digest('data', gen_flags,
                       'tools/dataset_converters/make_synthetic_wifi_densepose.py')
    stages.run('data', k_data, lambda: qs.run_cmd(
        [py, 'tools/dataset_converters/make_synthetic_wifi_densepose.py'] + gen_flags,
        log=osp.join(wd, 'data.log')))

    common = [f'randomness.seed={args.seed}']
    t_dir = osp.join(wd, 'teacher')
    t_opts = qs.schedule_options(args.teacher_iters) + qs.data_options(data, False) + common
    k_teacher = qs.digest('teacher', k_data, TEACHER_CFG, t_opts)
    stages.run('teacher', k_teacher, lambda: qs.run_cmd(
        [py, 'tools/train.py', TEACHER_CFG, '--work-dir', t_dir, '--cfg-options'] + t_opts,
        log=osp.join(t_dir, 'train.log')))
    t_ckpt = qs.last_checkpoint(t_dir)

    train_ann = osp.join(data, 'annotations', 'densepose_train.json')
    pseudo = osp.join(data, 'annotations', 'pseudo_train.json')
    k_pseudo = qs.digest('pseudo', k_teacher, args.pseudo_score_thr)
    stages.run('pseudo', k_pseudo, lambda: qs.run_cmd(
        [py, 'tools/misc/generate_pseudo_labels.py', TEACHER_CFG, t_ckpt, '--img-dir', data,
         '--ann-file', train_ann, '--out', pseudo, '--score-thr', str(args.pseudo_score_thr),
         '--cfg-options', f'model.test_cfg.rcnn.score_thr={args.pseudo_score_thr}'],
        log=osp.join(wd, 'pseudo_labels.log')))
    with open(pseudo) as f:
        if not json.load(f)['annotations']:
            raise SystemExit(f'[full_recipe] {pseudo}: the teacher ({t_ckpt}) gave no detection '
                             f'with score >= {args.pseudo_score_thr}; train it longer '
                             '(--teacher-iters) or lower --pseudo-score-thr')
    shuffled = osp.join(data, 'annotations', 'pseudo_train_csi-shuffled.json')
    qs.shuffle_csi(pseudo, shuffled, args.seed)

    cfg = Config.fromfile(osp.join(ROOT, STUDENT_CFG))
    s_opts = ([f'model.teacher_ckpt={t_ckpt}',
               f'model.student.detector.init_cfg.checkpoint={t_ckpt}']
              + qs.schedule_options(args.student_iters) + qs.data_options(data, True)
              + sensing_options(cfg, args.sensing) + common)
    threads = max(1, (os.cpu_count() or 1) // max(args.jobs, 1)) if args.jobs > 1 else None
    runs = []
    for run, ann in (('student', 'annotations/pseudo_train.json'),
                     ('control', 'annotations/pseudo_train_csi-shuffled.json')):
        r_dir = osp.join(wd, run)
        cmd = [py, 'tools/train.py', STUDENT_CFG, '--work-dir', r_dir, '--cfg-options',
               f'train_dataloader.dataset.ann_file={ann}'] + s_opts
        runs.append((run, qs.digest(run, k_pseudo, STUDENT_CFG, s_opts),
                     lambda cmd=cmd, r_dir=r_dir: qs.run_cmd(
                         cmd, log=osp.join(r_dir, 'train.log'), threads=threads)))
    stages.run_parallel(runs, args.jobs)
    ckpts = {'teacher': t_ckpt}
    for run in ('student', 'control'):
        ckpts[run] = qs.last_checkpoint(osp.join(wd, run))
    splits = [s for s in SPLITS if s == 'val' or args.num_heldout > 0]

    def evaluate() -> dict:
        tasks = [(split, run) for split in splits for run in ('teacher', 'student', 'control')]

        def one(task):
            split, run = task
            cfg_file = qs.trained_config(osp.join(wd, run),
                                         TEACHER_CFG if run == 'teacher' else STUDENT_CFG)
            e_dir = osp.join(wd, 'eval', f'{run}_{split}')
            return qs.evaluate([py, 'tools/test.py', cfg_file, ckpts[run], '--work-dir', e_dir,
                                '--cfg-options'] + qs.split_options(data, split), e_dir, threads)

        summary: Dict[str, Dict[str, dict]] = {s: {} for s in splits}
        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            for (split, run), row in zip(tasks, pool.map(one, tasks)):
                summary[split][run] = row
                qs.say(f'  {run:8s} {split:8s} ' + '  '.join(
                    f'{k} {v:.3f}' for k, v in row.items()))
        return summary

    summary = stages.run('eval', qs.digest('eval', splits, *[ckpts[r] for r in sorted(ckpts)]),
                         evaluate)
    pics = stages.run('report', qs.digest('report', summary),
                      lambda: qs.report(wd, ckpts, args.num_pictures, STUDENT_CFG))
    bars = qs.check_bars(summary) + ratio_bars(summary)
    meta = dict(seed=args.seed, machine=f'{os.cpu_count()} CPU cores',
                wall_min=sum(stages.times.values()) / 60,
                stages=', '.join(f'{k} {v:.0f} s' for k, v in stages.times.items()),
                sensing=args.sensing, tiny=args.tiny)
    md = qs.write_summary(wd, summary, bars, meta)
    with open(osp.join(wd, 'summary.json'), 'w') as f:
        json.dump(dict(summary=summary, acceptance=bars, meta=meta, **pics), f, indent=1)
    print(open(md).read())
    print(f'[full_recipe] summary: {md}; pictures: {osp.join(wd, "pictures")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
