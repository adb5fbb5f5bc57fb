# Copyright (c) mmdensekd contributors. All rights reserved.
"""Exact resume: a tiny training and a tiny distillation are killed (SIGKILL)
after their first checkpoint, resumed with ``--resume``, and every logged
loss equals the uninterrupted run's to 1e-6 (CPU, seed 0, deterministic)."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmdensekd.testing.tiny_densepose import build_tiny_densepose_coco
from mmdensekd.utils import allow_mmengine_checkpoint_globals

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
DP_CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                     'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
KD_CONFIG = osp.join(ROOT, 'configs', 'distill',
                     'kd_densepose-rcnn_tiny-cpu_r18-r18half_fpn_1xb2-60i_densepose-coco-tiny.py')
MAX_ITERS, INTERVAL = 10, 3
RUN_TIMEOUT = 300


WRAPPER = """_base_ = [{base!r}]
# no drawing: these runs test resuming only
default_hooks = dict(visualization=dict(_delete_=True, type='DetVisualizationHook', draw=False))
"""


def _wrap(root, config):
    path = root / ('wrapped_' + osp.basename(config))
    path.write_text(WRAPPER.format(base=config))
    return str(path)


def _options(extra=()):
    return [
        '--cfg-options', f'train_cfg.max_iters={MAX_ITERS}', 'train_cfg.val_interval=1000',
        f'default_hooks.checkpoint.interval={INTERVAL}',
        'default_hooks.checkpoint.max_keep_ckpts=5',
        'default_hooks.logger.interval=1', 'log_processor.window_size=1',
        'randomness.seed=0', 'randomness.deterministic=True', 'train_dataloader.batch_size=1',
        *extra
    ]


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
                PYTHONHASHSEED='0')


def _train(cwd, config, work_dir, extra=(), resume=False):
    args = [sys.executable, TRAIN, config, '--work-dir', str(work_dir)]
    args += ['--resume'] if resume else []
    proc = subprocess.run(args + _options(extra), cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def _train_and_kill(cwd, config, work_dir, extra=()):
    """Start a run and SIGKILL it once its first checkpoint is complete."""
    args = [sys.executable, TRAIN, config, '--work-dir', str(work_dir)] + _options(extra)
    proc = subprocess.Popen(args, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    first = osp.join(str(work_dir), f'iter_{INTERVAL}.pth')
    deadline = time.time() + RUN_TIMEOUT
    try:
        while time.time() < deadline and proc.poll() is None:
            last = osp.join(str(work_dir), 'last_checkpoint')
            if osp.isfile(last) and open(last).read().strip() == first:
                break
            time.sleep(0.05)
        assert proc.poll() is None, 'the run ended before it could be killed'
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not osp.isfile(osp.join(str(work_dir), f'iter_{MAX_ITERS}.pth'))


def _losses(work_dir):
    """step -> {loss key: value} over every run in ``work_dir`` (a resumed
    run's lines override those of the killed run for the same step)."""
    out = {}
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec:
                    out[rec['step']] = {k: v for k, v in rec.items() if 'loss' in k}
    return out


def _assert_same_losses(ref, resumed):
    assert sorted(ref) == list(range(1, MAX_ITERS + 1)), sorted(ref)
    assert sorted(resumed) == sorted(ref)
    for step in ref:
        assert ref[step].keys() == resumed[step].keys()
        for key, value in ref[step].items():
            assert abs(value - resumed[step][key]) <= 1e-6, (step, key, value,
                                                               resumed[step][key])


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume')
    data = osp.join(ROOT, 'tests', 'data')
    build_tiny_densepose_coco(str(root / 'work_dirs' / 'tiny_densepose_coco'),
                              osp.join(data, 'coco_tiny'),
                              osp.join(data, 'densepose_real', 'example_results.json'))
    return root


def test_resume_densepose_is_exact(tiny_root):
    config = _wrap(tiny_root, DP_CONFIG)
    # validation right after each checkpoint: the random numbers it draws
    # must not make the uninterrupted run differ from the resumed one
    extra = [f'train_cfg.val_interval={INTERVAL}', 'val_dataloader.dataset.indices=1']
    _train(tiny_root, config, tiny_root / 'dp_ref', extra)
    _train_and_kill(tiny_root, config, tiny_root / 'dp_cut', extra)
    out = _train(tiny_root, config, tiny_root / 'dp_cut', extra, resume=True)
    assert 'Advance dataloader' in out
    _assert_same_losses(_losses(tiny_root / 'dp_ref'), _losses(tiny_root / 'dp_cut'))
    allow_mmengine_checkpoint_globals()
    ckpt = torch.load(tiny_root / 'dp_cut' / f'iter_{INTERVAL}.pth', weights_only=True)
    assert set(ckpt['rng_state']) >= {'python', 'numpy', 'torch'}
    assert ckpt['meta']['sampler'] == dict(type='InfiniteSampler', seed=0, position=INTERVAL)


def test_resume_distillation_is_exact(tiny_root):
    from mmengine.config import Config

    from mmdensekd.registry import MODELS
    from mmdensekd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    # the config names its teacher config relative to the repository root
    teacher_cfg = osp.join(ROOT, Config.fromfile(KD_CONFIG).teacher_cfg)
    torch.manual_seed(0)
    teacher = MODELS.build(Config.fromfile(teacher_cfg).model)
    teacher_ckpt = tiny_root / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), teacher_ckpt)
    extra = [f'model.teacher_ckpt={teacher_ckpt}', f'model.teacher_cfg={teacher_cfg}']
    config = _wrap(tiny_root, KD_CONFIG)
    _train(tiny_root, config, tiny_root / 'kd_ref', extra)
    _train_and_kill(tiny_root, config, tiny_root / 'kd_cut', extra)
    _train(tiny_root, config, tiny_root / 'kd_cut', extra, resume=True)
    ref, resumed = _losses(tiny_root / 'kd_ref'), _losses(tiny_root / 'kd_cut')
    assert any(k.startswith('distill.') for k in ref[1]), ref[1]
    _assert_same_losses(ref, resumed)
    # the teacher was neither re-initialised nor trained: bit-identical weights
    allow_mmengine_checkpoint_globals()
    final = torch.load(tiny_root / 'kd_cut' / f'iter_{MAX_ITERS}.pth', weights_only=True)
    for name, value in teacher.state_dict().items():
        assert torch.equal(final['state_dict'][f'teacher.{name}'], value), name


# -- epoch-based loop ----------------------------------------------------------------
TD_CONFIG = osp.join(ROOT, 'configs', 'topdown', 'td-kprcnn_res18_1xb4-2e_coco-tiny-64x48.py')
TD_WRAPPER = """_base_ = [{base!r}]
# the exact-resume runner and atomic checkpoints of configs/_base_/default_runtime.py,
# with a checkpoint every 2 iterations (mid-epoch) and validation after each epoch
runner_type = 'mmdet.ExactResumeRunner'
default_hooks = dict(checkpoint=dict(_delete_=True, type='mmdet.AtomicCheckpointHook',
                                     by_epoch=False, interval=2, max_keep_ckpts=20))
train_cfg = dict(val_interval=1)
randomness = dict(seed=0, deterministic=True)
"""


def _train_td(cwd, config, work_dir, resume_from=None):
    args = [sys.executable, TRAIN, config, '--work-dir', str(work_dir)]
    args += ['--resume', str(resume_from)] if resume_from else []
    proc = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def test_resume_topdown_epoch_loop_is_exact(tmp_path):
    """Issue 24 #6: the top-down config (an epoch-based loop with random flips)
    stopped mid-epoch (a checkpoint of the uninterrupted run, as a killed run
    leaves it) and resumed logs the same losses as the uninterrupted run."""
    config = tmp_path / 'td_exact.py'
    config.write_text(TD_WRAPPER.format(base=TD_CONFIG))
    _train_td(ROOT, str(config), tmp_path / 'ref')
    ref = _losses(tmp_path / 'ref')
    steps = sorted(ref)
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 6, steps
    per_epoch = len(steps) // 2
    allow_mmengine_checkpoint_globals()
    ckpt = torch.load(tmp_path / 'ref' / 'iter_2.pth', weights_only=True)
    assert ckpt['meta']['epoch'] == 0 and ckpt['meta']['iter'] == 2  # mid-epoch 1
    assert ckpt['meta']['sampler'] == dict(type='DefaultSampler', seed=0, position=2)
    # mid-epoch 1 (validation after epoch 1 still to come) and in epoch 2
    starts = [2, 2 * ((per_epoch + 2) // 2)]
    for start in starts:
        assert start % per_epoch, f'iteration {start} is an epoch end ({per_epoch}/epoch)'
        work_dir = tmp_path / f'resumed_{start}'
        out = _train_td(ROOT, str(config), work_dir, tmp_path / 'ref' / f'iter_{start}.pth')
        assert 'not bit-identically' not in out and 'data order differs' not in out
        resumed = _losses(work_dir)
        assert sorted(resumed) == steps[start:], (start, sorted(resumed))
        for step in resumed:
            for key, value in ref[step].items():
                assert abs(value - resumed[step][key]) <= 1e-6, (start, step, key, value,
                                                                   resumed[step][key])
