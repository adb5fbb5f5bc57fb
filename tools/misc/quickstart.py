# Copyright (c) mmdensekd contributors. All rights reserved.
"""The README main job: a student that sees only WiFi learns from an image
teacher, shown against a control that gets the wrong WiFi.

    python tools/misc/quickstart.py [--work-dir work_dirs/quickstart] [--seed 0]
        [--teacher-iters N] [--student-iters N] [--num-train N] ...

The recipe is the list of stages in :func:`main`, run by
:class:`mmdensekd.apis.StageRunner` (each prints progress; a stage whose
inputs did not change since its last successful run is skipped, so
re-running resumes where it stopped):

1. ``data``: the simulated camera + WiFi world
   (``tools/dataset_converters/make_synthetic_wifi_densepose.py``): frames,
   exact DensePose-COCO ground truth, Person-in-WiFi-layout CSI of the same
   scenes, the GPS evaluation files of the synthetic body; splits ``train``,
   ``val`` (same room layouts) and ``heldout`` (an unseen layout).
2. ``stats``: CSI amplitude / sanitised-phase statistics of the training
   split, computed through the student's pipeline and stored in the dataset's
   ``meta.json``, where the student's data preprocessor reads them.
3. ``teacher``: the image DensePose + keypoint R-CNN on the frames.
4. ``pseudo``: the teacher's pseudo ground truth on the training frames
   (``tools/misc/generate_pseudo_labels.py``), as in the paper.
5. ``student``: the CSI student distilled from the frozen teacher (initialised
   from the teacher's weights).
6. ``control``: the same, but each frame's CSI is that of another frame;
   student and control train side by side (``--jobs``).
7. ``eval_<model>_<split>``: teacher (image), student and control (CSI),
   each with the config its training run wrote, on ``val`` and ``heldout``:
   box AP, keypoint AP, DensePose GPS / GPSm / IOU AP.
8. ``report``: ``summary.md`` / ``summary.json``, loss curves and
   frame | ground truth | teacher | CSI student pictures.
"""
import argparse
import copy
import glob
import json
import os
import os.path as osp
import sys
from functools import partial
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmdensekd.apis import StageRunner, input_digest, run_command
from mmdensekd.apis.stages import say  # noqa: F401 (recipes built on this one print with it)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TEACHER_CFG = 'configs/distill/teachers/densepose-kprcnn_r18-tiny_fpn_1xb2-1600i_synthetic-wifi.py'
STUDENT_CFG = ('configs/distill/'
               'kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py')
DATA_ROOT = 'work_dirs/quickstart/data'  # the configs' data_root
SPLITS = ('val', 'heldout')
#: (summary column, metric key) in the order of the table.
METRICS = (('box AP', 'coco/bbox_mAP'), ('box AP50', 'coco/bbox_mAP_50'),
           ('kpt AP', 'coco-keypoint/AP'), ('GPS AP', 'densepose/GPS_AP'),
           ('GPSm AP', 'densepose/GPSm_AP'), ('IOU AP', 'densepose/IOU_AP'))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--work-dir', default='work_dirs/quickstart')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=600)
    p.add_argument('--num-val', type=int, default=100)
    p.add_argument('--num-heldout', type=int, default=100)
    p.add_argument('--max-people', type=int, default=1)
    p.add_argument('--stations', type=int, default=6,
                   help='standing spots per room (0: anywhere in the activity area)')
    p.add_argument('--heading-jitter', type=float, default=20.0, metavar='DEG',
                   help='people face the camera, turned by a normal angle of this std '
                   '(degrees); negative: any heading')
    p.add_argument('--teacher-iters', type=int, default=1600)
    p.add_argument('--student-iters', type=int, default=1000)
    p.add_argument('--pseudo-score-thr', type=float, default=0.8,
                   help='teacher detections kept as pseudo ground truth')
    p.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1),
                   help='trainings / evaluations run at once (student and control '
                   'train side by side, each on cpu_count / jobs threads)')
    p.add_argument('--num-pictures', type=int, default=4)
    p.add_argument('--python', default=sys.executable)
    p.add_argument('--force', nargs='*', default=[], help='stages to rerun')
    return p.parse_args(argv)


# ------------------------------------------------------------------ helpers
def digest(*parts) -> str:
    """:func:`~mmdensekd.apis.input_digest` of repository files and values."""
    return input_digest(*parts, root=ROOT)


def run_cmd(cmd: List[str], log: Optional[str] = None, threads: Optional[int] = None) -> None:
    """Run a command from the repository root (see
    :func:`~mmdensekd.apis.run_command`)."""
    run_command(cmd, ROOT, log=log, threads=threads, name='quickstart')


def shuffle_csi(ann_file: str, out_file: str, seed: int) -> Dict[int, str]:
    """Write a copy of a paired annotation file whose images carry the CSI
    of another frame (a seeded derangement of ``csi_file``).

    Args:
        ann_file (str): Paired DensePose-COCO json (images with ``csi_file``).
        out_file (str): Where to write the control's json.
        seed (int): Permutation seed.

    Returns:
        dict[int, str]: image id -> the CSI file it gets in the control.
    """
    with open(ann_file) as f:
        coco = json.load(f)
    images = coco['images']
    if len(images) < 2:
        raise ValueError(f'{ann_file}: a CSI permutation needs at least 2 images')
    rng = np.random.default_rng(seed)
    n = len(images)
    # a cyclic shift of a random order: no image keeps its own CSI
    order = rng.permutation(n)
    perm = np.empty(n, np.int64)
    perm[order] = order[np.roll(np.arange(n), 1)]
    csi = [img['csi_file'] for img in images]
    for i, img in enumerate(images):
        img['csi_file'] = csi[perm[i]]
    with open(out_file, 'w') as f:
        json.dump(coco, f)
    return {img['id']: img['csi_file'] for img in images}


def csi_statistics(cfg_file: str, data_root: str) -> dict:
    """CSI amplitude / phase statistics of the training split as the
    student's pipeline feeds them, stored in ``data_root/meta.json``
    (:mod:`mmdensekd.datasets.csi_stats`), where the student's data
    preprocessor (``csi_stats_file``) reads them."""
    from mmdensekd.datasets.csi_stats import csi_stats_of_dataset, write_csi_stats
    stats = csi_stats_of_dataset(
        osp.join(ROOT, cfg_file),
        cfg_options={'train_dataloader.dataset.ann_file': 'annotations/densepose_train.json'})
    write_csi_stats(osp.join(data_root, 'meta.json'), stats)
    return dict(csi_mean=stats['csi_mean'], csi_std=stats['csi_std'],
                num_frames=stats['num_samples'])


def trained_config(work_dir: str, cfg_file: str) -> str:
    """The config a training run in ``work_dir`` wrote: ``cfg_file`` with
    the run's ``--cfg-options`` applied (schedule, teacher path)."""
    path = osp.join(work_dir, osp.basename(cfg_file))
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: the training run of {cfg_file} wrote no config')
    return path


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def read_test_metrics(work_dir: str) -> dict:
    """The metrics of the newest ``tools/test.py`` run in ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if not files:
        raise FileNotFoundError(f'no metrics json under {work_dir}')
    with open(files[-1]) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def schedule_options(iters: int) -> List[str]:
    """``--cfg-options`` that train for ``iters`` iterations with the
    configs' step (x0.1) at 80 % and one checkpoint at the end."""
    # no validation inside training: the eval stage scores every model
    return ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            f'train_cfg.max_iters={iters}', f'param_scheduler.1.end={iters}',
            f'param_scheduler.1.milestones=[{int(iters * 0.8)}]',
            f'default_hooks.checkpoint.interval={iters}']


def data_options(data_root: str, student: bool) -> List[str]:
    """``--cfg-options`` that point a config at ``data_root`` (train and
    test data, evaluators, the student's CSI statistics): the configs name
    :data:`DATA_ROOT`, the data of another ``--work-dir`` lives in it."""
    root = data_root.rstrip('/') + '/'
    opts = [f'{d}.dataset.data_root={root}'
            for d in ('train_dataloader', 'test_dataloader')]
    opts += [f'test_evaluator.{i}.ann_file={root}annotations/densepose_val.json'
             for i in range(3)] + [f'test_evaluator.2.eval_data_dir={root}eval_data']
    if student:
        opts.append(f'model.student.data_preprocessor.csi_stats_file={root}meta.json')
    return opts


def split_options(data_root: str, split: str) -> List[str]:
    """``--cfg-options`` of ``tools/test.py`` for one split of ``data_root``."""
    ann = f'annotations/densepose_{split}.json'
    full = f"{data_root.rstrip('/')}/{ann}"
    return [f'test_dataloader.dataset.ann_file={ann}'] + [
        f'test_evaluator.{i}.ann_file={full}' for i in range(3)]


def check_bars(summary: dict) -> List[str]:
    """The issue's acceptance bars on ``val``, as printable lines."""
    val = summary['val']
    s, c, t = val['student'], val['control'], val['teacher']
    lines = []

    def bar(ok: bool, text: str) -> None:
        lines.append(f"[{'PASS' if ok else 'FAIL'}] {text}")

    d50 = s['box AP50'] - c['box AP50']
    bar(d50 >= 0.2, f"student box AP50 - control = {d50:.3f} (>= 0.2)")
    bar(s['box AP50'] >= 2 * c['box AP50'],
        f"student box AP50 {s['box AP50']:.3f} >= 2 x control {c['box AP50']:.3f}")
    for key in ('kpt AP', 'GPS AP'):  # full precision: these can be tiny
        bar(s[key] > c[key], f'student {key} {s[key]:.6f} > control {c[key]:.6f}')
    bar(t['box AP50'] >= 0.8, f"teacher box AP50 {t['box AP50']:.3f} >= 0.8")
    return lines


def write_summary(work_dir: str, summary: dict, bars: List[str], meta: dict) -> str:
    cols = [name for name, _ in METRICS]
    lines = ['# mmdensekd quickstart: image teacher -> WiFi (CSI) student', '',
             f"seed {meta['seed']}; {meta['machine']}; wall time {meta['wall_min']:.1f} min "
             f"(stages: {meta['stages']})", '']
    for split in SPLITS:
        title = 'val (training room layouts)' if split == 'val' else 'heldout (unseen layout)'
        lines += [f'## {title}', '', '| model | input | ' + ' | '.join(cols) + ' |',
                  '|---|---|' + '---|' * len(cols)]
        for model, inp in (('teacher', 'image'), ('student', 'CSI'),
                           ('control', 'CSI shuffled across frames')):
            row = summary[split][model]
            lines.append(f'| {model} | {inp} | ' + ' | '.join(f'{row[c]:.3f}' for c in cols)
                         + ' |')
        lines.append('')
    lines += ['## Acceptance (val)', ''] + [f'- {b}' for b in bars] + ['']
    out = osp.join(work_dir, 'summary.md')
    with open(out, 'w') as f:
        f.write('\n'.join(lines))
    return out


# ------------------------------------------------------------------ pictures
def draw_pictures(work_dir: str, ckpts: Dict[str, str], num: int,
                  student_cfg: str = STUDENT_CFG) -> List[str]:
    """frame | ground truth | teacher | CSI student (trained from
    ``student_cfg``) for ``num`` val frames."""
    import cv2
    import torch
    from mmdet.registry import VISUALIZERS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import load_checkpoint

    from mmdensekd.registry import DATASETS, MODELS
    from mmdensekd.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(trained_config(osp.join(work_dir, 'student'), student_cfg))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpts['student'], map_location='cpu', logger='silent')
    model.eval()
    # the student's test frames with their ground truth (named pipeline pieces)
    ds_cfg = cfg.test_dataloader.dataset.copy()
    ds_cfg.pipeline = [cfg.load_image, cfg.load_annotations, *cfg.csi_steps, cfg.resize,
                       cfg.pack_paired_test]
    dataset = DATASETS.build(ds_cfg)
    vis = VISUALIZERS.build(dict(type='DensePoseVisualizer', name='quickstart_vis',
                                 vis_backends=[]))
    vis.dataset_meta = dataset.metainfo
    out_dir = osp.join(work_dir, 'pictures')
    os.makedirs(out_dir, exist_ok=True)
    files = []
    step = max(1, len(dataset) // max(num, 1))
    for idx in range(0, min(len(dataset), step * num), step):
        data = pseudo_collate([dataset[idx]])
        with torch.no_grad():
            panels = dict(teacher=model.teacher_val_step(copy.deepcopy(data))[0],
                          student=model.test_step(copy.deepcopy(data))[0])
        sample = panels['student']
        img = cv2.cvtColor(cv2.imread(sample.img_path), cv2.COLOR_BGR2RGB)
        gt = vis.add_datasample('gt', img, data['data_samples'][0], draw_gt=True,
                                draw_pred=False)
        row = [img, gt] + [vis.draw_instances(img, panels[r].pred_instances, score_thr=0.5)
                           for r in ('teacher', 'student')]
        row = [cv2.resize(p, (img.shape[1], img.shape[0])) for p in row]
        for p, text in zip(row, ('frame', 'ground truth', 'teacher (image)',
                                 'student (WiFi only)')):
            cv2.putText(p, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                        cv2.LINE_AA)
        out = osp.join(out_dir, f'val_{idx:04d}.jpg')
        cv2.imwrite(out, cv2.cvtColor(np.concatenate(row, axis=1), cv2.COLOR_RGB2BGR))
        files.append(out)
    return files


def generator_flags(args: argparse.Namespace, data_root: str = DATA_ROOT) -> List[str]:
    """Flags of ``make_synthetic_wifi_densepose.py`` for the quickstart's world."""
    heading = ['--heading-jitter', str(args.heading_jitter)] if args.heading_jitter >= 0 else []
    return ['--out-dir', data_root, '--num-train', str(args.num_train), '--num-val',
            str(args.num_val), '--num-test-layout', str(args.num_heldout), '--max-people',
            str(args.max_people), '--stations', str(args.stations), '--img-size', '256', '192',
            '--csi-layout', 'person-in-wifi', '--seed', str(args.seed), '--workers', '2'
            ] + heading


def evaluate(cmd: List[str], e_dir: str, threads: Optional[int]) -> dict:
    """Run ``tools/test.py`` and return the summary metrics of its run."""
    run_cmd(cmd, log=osp.join(e_dir, 'test.log'), threads=threads)
    metrics = read_test_metrics(e_dir)
    return {name: float(metrics.get(key, float('nan'))) for name, key in METRICS}


def report(wd: str, ckpts: Dict[str, str], num_pictures: int,
           student_cfg: str = STUDENT_CFG) -> dict:
    """Loss curves (``tools/analysis/analyze_logs.py``) and pictures."""
    logs = {r: sorted(glob.glob(osp.join(wd, r, '*', 'vis_data', 'scalars.json')))[-1]
            for r in ('teacher', 'student', 'control')}
    plot = [sys.executable, 'tools/analysis/analyze_logs.py', 'plot_curve']
    run_cmd(plot + [logs['teacher'], '--keys', 'loss', '--out',
                    osp.join(wd, 'curves_teacher.png')])
    run_cmd(plot + [logs['student'], logs['control'], '--keys', 'student.loss_densepose_I',
                    'distill.loss_transfer', '--out',
                    osp.join(wd, 'curves_student_vs_control.png'), '--legend',
                    'student: loss_densepose_I', 'student: loss_transfer',
                    'control: loss_densepose_I', 'control: loss_transfer'])
    return dict(pictures=draw_pictures(wd, ckpts, num_pictures, student_cfg))


# ------------------------------------------------------------------ main
def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    py = args.python
    wd = osp.join(ROOT, args.work_dir) if not osp.isabs(args.work_dir) else args.work_dir
    data = osp.join(wd, 'data')  # DATA_ROOT for the default --work-dir
    os.makedirs(wd, exist_ok=True)
    stages = StageRunner(wd, args.force, name='quickstart')

    gen_flags = generator_flags(args, data)
    k_data = digest('data', gen_flags, 'tools/dataset_converters/make_synthetic_wifi_densepose.py')
    stages.run('data', k_data, partial(
        run_cmd, [py, 'tools/dataset_converters/make_synthetic_wifi_densepose.py'] + gen_flags))

    train_ann = osp.join(data, 'annotations', 'densepose_train.json')
    k_stats = digest('stats', k_data, STUDENT_CFG)
    stats = stages.run('stats', k_stats, partial(csi_statistics, STUDENT_CFG, data))
    print(f"  CSI statistics (train split, after sanitisation): mean {stats['csi_mean']}, "
          f"std {stats['csi_std']} (in {osp.join(data, 'meta.json')})", flush=True)

    common = [f'randomness.seed={args.seed}']
    t_dir = osp.join(wd, 'teacher')
    k_teacher = digest('teacher', k_data, TEACHER_CFG, args.teacher_iters, args.seed)
    stages.run('teacher', k_teacher, partial(
        run_cmd, [py, 'tools/train.py', TEACHER_CFG, '--work-dir', t_dir, '--cfg-options']
        + schedule_options(args.teacher_iters) + data_options(data, False) + common,
        log=osp.join(t_dir, 'train.log')))
    t_ckpt = last_checkpoint(t_dir)

    pseudo = osp.join(data, 'annotations', 'pseudo_train.json')
    k_pseudo = digest('pseudo', k_teacher, args.pseudo_score_thr,
                      'tools/misc/generate_pseudo_labels.py')
    stages.run('pseudo', k_pseudo, partial(
        run_cmd, [py, 'tools/misc/generate_pseudo_labels.py', TEACHER_CFG, t_ckpt, '--img-dir',
                  data, '--ann-file', train_ann, '--out', pseudo, '--score-thr',
                  str(args.pseudo_score_thr), '--cfg-options',
                  f'model.test_cfg.rcnn.score_thr={args.pseudo_score_thr}'],
        log=osp.join(wd, 'pseudo_labels.log')))
    shuffle_csi(pseudo, osp.join(data, 'annotations', 'pseudo_train_csi-shuffled.json'),
                args.seed)

    # the student's detector starts from the teacher's weights (same
    # architecture): the MTN then has to produce features the teacher's heads
    # already read; the control is the same run on CSI of other frames
    student_opts = [f'model.teacher_ckpt={t_ckpt}',
                    f'model.student.detector.init_cfg.checkpoint={t_ckpt}'
                    ] + schedule_options(args.student_iters) + data_options(data, True) + common
    threads = max(1, (os.cpu_count() or 1) // max(args.jobs, 1)) if args.jobs > 1 else None
    runs = []
    for run, ann in (('student', 'annotations/pseudo_train.json'),
                     ('control', 'annotations/pseudo_train_csi-shuffled.json')):
        r_dir = osp.join(wd, run)
        cmd = [py, 'tools/train.py', STUDENT_CFG, '--work-dir', r_dir, '--cfg-options',
               f'train_dataloader.dataset.ann_file={ann}'] + student_opts
        runs.append((run, digest(run, k_pseudo, k_stats, STUDENT_CFG, student_opts),
                     partial(run_cmd, cmd, log=osp.join(r_dir, 'train.log'), threads=threads)))
    stages.run_parallel(runs, args.jobs)
    ckpts = {run: last_checkpoint(osp.join(wd, run)) for run in ('student', 'control')}
    ckpts['teacher'] = t_ckpt

    # each model is tested with the config its training run wrote
    evals = []
    for split in SPLITS:
        for run in ('teacher', 'student', 'control'):
            cfg = trained_config(osp.join(wd, run),
                                 TEACHER_CFG if run == 'teacher' else STUDENT_CFG)
            e_dir = osp.join(wd, 'eval', f'{run}_{split}')
            cmd = [py, 'tools/test.py', cfg, ckpts[run], '--work-dir', e_dir,
                   '--cfg-options'] + split_options(data, split)
            evals.append((f'eval_{run}_{split}', digest('eval', split, ckpts[run], cfg),
                          partial(evaluate, cmd, e_dir, threads)))
    rows = stages.run_parallel(evals, args.jobs)
    summary: Dict[str, Dict[str, dict]] = {s: {} for s in SPLITS}
    for (name, _, _), row in zip(evals, rows):
        _, run, split = name.split('_')
        summary[split][run] = row
        print(f'  {run:8s} {split:8s} ' + '  '.join(f'{k} {v:.3f}' for k, v in row.items()))

    pics = stages.run('report', digest('report', summary),
                      partial(report, wd, ckpts, args.num_pictures))
    bars = check_bars(summary)
    meta = dict(seed=args.seed, machine=f'{os.cpu_count()} CPU cores',
                wall_min=sum(stages.times.values()) / 60,
                stages=', '.join(f'{k} {v:.0f} s' for k, v in stages.times.items()))
    md = write_summary(wd, summary, bars, meta)
    with open(osp.join(wd, 'summary.json'), 'w') as f:
        json.dump(dict(summary=summary, acceptance=bars, meta=meta, **pics), f, indent=1)
    print(open(md).read())
    print(f'[quickstart] summary: {md}; pictures: {osp.join(wd, "pictures")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
