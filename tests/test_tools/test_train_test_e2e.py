# Copyright (c) mmdensekd contributors. All rights reserved.
"""End to end: tools/train.py then tools/test.py --eval bbox densepose on the
tiny real-image DensePose-COCO set (CPU, 1 iteration, 1 test image)."""
import os
import os.path as osp
import subprocess
import sys

import torch

from mmdensekd.testing.tiny_densepose import build_tiny_densepose_coco
from mmdensekd.utils import allow_mmengine_checkpoint_globals


def _run(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='2', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f'{args[0]} failed:\n{proc.stdout[-3000:]}\n' \
        f'{proc.stderr[-5000:]}'
    return proc.stdout + proc.stderr


def test_train_then_test_on_tiny_set(repo_root, tiny_config, tmp_path):
    # the tiny config's data_root is relative: work_dirs/tiny_densepose_coco/
    data = osp.join(repo_root, 'tests', 'data')
    build_tiny_densepose_coco(str(tmp_path / 'work_dirs' / 'tiny_densepose_coco'),
                              osp.join(data, 'coco_tiny'),
                              osp.join(data, 'densepose_real', 'example_results.json'))
    work_dir = tmp_path / 'run'
    out = _run([
        osp.join(repo_root, 'tools', 'train.py'), tiny_config, '--work-dir', str(work_dir),
        '--cfg-options', 'train_cfg.max_iters=1', 'train_cfg.val_begin=1000',
        'default_hooks.checkpoint.interval=1', 'train_dataloader.batch_size=1',
        'train_dataloader.dataset.indices=1'
    ], cwd=tmp_path)
    assert 'loss_densepose_I' in out
    ckpt = work_dir / 'iter_1.pth'
    assert (work_dir / 'last_checkpoint').read_text() == str(ckpt)
    allow_mmengine_checkpoint_globals()  # a full resume checkpoint, weights_only stays on
    state = torch.load(ckpt, weights_only=True)
    assert state['meta']['iter'] == 1 and any('densepose' in k for k in state['state_dict'])

    out = _run([
        osp.join(repo_root, 'tools', 'test.py'), tiny_config, str(ckpt), '--work-dir',
        str(tmp_path / 'test'), '--eval', 'bbox', 'densepose', '--out',
        str(tmp_path / 'dp_results.json'), '--cfg-options', 'test_dataloader.dataset.indices=1'
    ], cwd=tmp_path)
    assert 'coco/bbox_mAP' in out
    assert 'densepose/' in out
    assert osp.isfile(tmp_path / 'dp_results.json')
