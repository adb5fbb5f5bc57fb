# Copyright (c) mmdensekd contributors. All rights reserved.
"""Argument handling of tools/train.py and tools/test.py (no training)."""
import os
import os.path as osp

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from mmdensekd.utils import setup_cpu_distributed

VAL_ANN = 'work_dirs/tiny_densepose_coco/annotations/densepose_tiny_val.json'


@pytest.fixture(scope='module')
def test_tool(load_tool):
    return load_tool('test.py')


@pytest.fixture(scope='module')
def train_tool(load_tool):
    return load_tool('train.py')


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / 'model.pth'
    path.write_bytes(b'')
    return str(path)


def test_eval_bbox_densepose_maps_onto_evaluators(test_tool, ckpt, tmp_path, tiny_config):
    args = test_tool.parse_args([tiny_config, ckpt, '--eval', 'bbox', 'densepose', '--out',
                                 str(tmp_path / 'dp.json'), '--work-dir', str(tmp_path)])
    cfg = test_tool.build_cfg(args)
    assert cfg.load_from == ckpt and cfg.work_dir == str(tmp_path)
    bbox, dp = cfg.test_evaluator
    assert bbox == dict(type='CocoMetric', ann_file=VAL_ANN, metric='bbox')
    assert dp['type'] == 'DensePoseMetric' and dp['ann_file'] == VAL_ANN
    assert dp['eval_data_dir'] is None
    assert dp['outfile_path'] == str(tmp_path / 'dp.json')
    # val evaluator untouched
    assert [m['type'] for m in cfg.val_evaluator] == ['CocoMetric', 'DensePoseMetric']


def test_eval_mmpose_style_alias(test_tool, ckpt, tiny_config):
    cfg = test_tool.build_cfg(test_tool.parse_args([tiny_config, ckpt, '--eval', 'mAP']))
    assert cfg.test_evaluator == [dict(type='CocoKeypointMetric', ann_file=VAL_ANN)]


def test_eval_unknown_metric_lists_valid(test_tool, ckpt, tiny_config):
    args = test_tool.parse_args([tiny_config, ckpt, '--eval', 'bbox', 'segm'])
    with pytest.raises(SystemExit, match="unknown metric 'segm'; valid metrics: bbox, "
                       'keypoints, densepose'):
        test_tool.build_cfg(args)


def test_test_rejects_bad_out_and_missing_ckpt(test_tool, ckpt, tmp_path, tiny_config):
    with pytest.raises(SystemExit, match='--out must end with'):
        test_tool.build_cfg(test_tool.parse_args([tiny_config, ckpt, '--out', 'x.txt']))
    with pytest.raises(SystemExit, match='nope.pth not found'):
        test_tool.build_cfg(test_tool.parse_args([tiny_config, str(tmp_path / 'nope.pth')]))


def test_train_options(train_tool, ckpt, tmp_path, tiny_config):
    args = train_tool.parse_args([tiny_config, '--cfg-options', 'train_cfg.max_iters=3'])
    cfg = train_tool.build_cfg(args)
    assert cfg.train_cfg.max_iters == 3 and cfg.resume is False
    assert cfg.work_dir == './work_dirs/densepose-rcnn_tiny_cpu_densepose-coco-tiny'
    cfg = train_tool.build_cfg(train_tool.parse_args([tiny_config, '--resume']))
    assert cfg.resume is True and cfg.load_from is None
    cfg = train_tool.build_cfg(train_tool.parse_args([tiny_config, '--resume', ckpt,
                                                      '--work-dir', str(tmp_path)]))
    assert cfg.resume is True and cfg.load_from == ckpt and cfg.work_dir == str(tmp_path)
    with pytest.raises(SystemExit, match='missing.pth not found'):
        train_tool.build_cfg(train_tool.parse_args([tiny_config, '--resume', 'missing.pth']))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_train_amp_without_cuda_is_a_clear_error(train_tool, tiny_config):
    with pytest.raises(SystemExit, match='--amp: automatic mixed precision needs a CUDA'):
        train_tool.build_cfg(train_tool.parse_args([tiny_config, '--amp']))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_setup_cpu_distributed(monkeypatch):
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert setup_cpu_distributed(cfg, 'none') is False
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg

    monkeypatch.delenv('MASTER_ADDR', raising=False)
    with pytest.raises(RuntimeError, match='RANK is not set; start the script with torchrun'):
        setup_cpu_distributed(Config(dict()), 'pytorch')

    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(29000 + os.getpid() % 1000)).items():
        monkeypatch.setenv(key, value)
    try:
        assert setup_cpu_distributed(cfg, 'pytorch') is True
        assert torch_dist.is_initialized() and torch_dist.get_backend() == 'gloo'
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                         broadcast_buffers=False, find_unused_parameters=False)


def test_dist_scripts_call_torchrun(tmp_path, tiny_config):
    """The scripts pass GPUS, NNODES, NODE_RANK, MASTER_ADDR, PORT and --launcher."""
    import subprocess
    fake = tmp_path / 'python'
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake), NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.0.0.1', PORT='29555')
    root = osp.dirname(osp.dirname(osp.dirname(tiny_config)))
    out = subprocess.run(['bash', 'tools/dist_train.sh', 'cfg.py', '2', '--amp'], cwd=root,
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ['-m', 'torch.distributed.run']
    for arg in ('--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
                '--nproc_per_node=2', '--master_port=29555'):
        assert arg in out
    assert out[-5:] == [osp.join(root, 'tools', 'train.py'), 'cfg.py', '--launcher', 'pytorch',
                        '--amp']
    out = subprocess.run(['bash', 'tools/dist_test.sh', 'cfg.py', 'x.pth', '1', '--eval',
                          'bbox'], cwd=root, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert '--nproc_per_node=1' in out
    assert out[-7:] == [osp.join(root, 'tools', 'test.py'), 'cfg.py', 'x.pth', '--launcher',
                        'pytorch', '--eval', 'bbox']
    bad = subprocess.run(['bash', 'tools/dist_test.sh', 'cfg.py'], cwd=root, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and 'usage: bash tools/dist_test.sh' in bad.stderr
