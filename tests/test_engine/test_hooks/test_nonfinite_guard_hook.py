# Copyright (c) mmdensekd contributors. All rights reserved.
"""NonFiniteGuardHook: unit checks on a tiny model, and tiny DensePose
trainings whose learning rate jumps x1e8 after 3 iterations: the run stops
(or skips, then stops) with a message naming the loss term, exits non-zero,
and ``last_checkpoint`` points at a checkpoint that loads and is finite."""
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

from mmdensekd.engine.hooks import NonFiniteGuardHook, NonFiniteTrainingError
from mmdensekd.engine.hooks.nonfinite_guard_hook import nonfinite_state_keys, nonfinite_terms
from mmdensekd.testing.tiny_densepose import build_tiny_densepose_coco
from mmdensekd.utils import allow_mmengine_checkpoint_globals

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
DP_CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                     'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)
        self.bn = torch.nn.BatchNorm1d(2)
        self.scale = 1.0

    def forward(self, inputs, data_samples=None, mode='loss'):
        out = self.lin(self.bn(inputs))
        return dict(loss_main=out.mean() * self.scale, acc=torch.tensor(float('nan')))


def _runner(model):
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    return SimpleNamespace(model=model, optim_wrapper=optim, iter=4,
                           logger=MMLogger.get_instance('guard_test'))


def _step(hook, runner):
    hook.before_train_iter(runner, 0)
    out = runner.model.train_step(dict(inputs=torch.randn(4, 2)), runner.optim_wrapper)
    hook.after_train_iter(runner, 0, outputs=out)
    return out


def test_helpers():
    assert nonfinite_terms({'loss_a': torch.tensor(1.0), 'loss_b': [torch.tensor(1.0),
                                                                    torch.tensor(float('inf'))],
                            'acc': torch.tensor(float('nan'))}) == ['loss_b']
    assert nonfinite_state_keys({'a': torch.zeros(2), 'b': torch.tensor([float('nan')]),
                                 'c': torch.zeros(2, dtype=torch.long)}) == ['b']


def test_options_checked_at_build():
    with pytest.raises(ValueError, match='action'):
        NonFiniteGuardHook(action='warn')
    with pytest.raises(ValueError, match='max_skips'):
        NonFiniteGuardHook(max_skips=-1)


def test_stop_names_term_and_keeps_weights():
    model = _Toy()
    runner = _runner(model)
    hook = NonFiniteGuardHook(action='stop')
    hook.before_train(runner)
    _step(hook, runner)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.scale = float('nan')
    with pytest.raises(NonFiniteTrainingError, match='loss_main non-finite at iteration 5'):
        _step(hook, runner)
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            assert torch.equal(v, before[k]) or 'running' in k or 'num_batches' in k, k
    assert 'parse_losses' not in vars(model)  # wrappers removed


def test_skip_restores_buffers_then_stops_after_max_skips():
    model = _Toy()
    runner = _runner(model)
    hook = NonFiniteGuardHook(action='skip', max_skips=2)
    hook.before_train(runner)
    _step(hook, runner)
    params = {k: v.clone() for k, v in model.state_dict().items()}
    model.scale = float('inf')
    _step(hook, runner)
    _step(hook, runner)
    assert hook.num_skipped == 2
    for k, v in model.state_dict().items():  # weights AND BatchNorm statistics unchanged
        assert torch.equal(v, params[k]), k
    with pytest.raises(NonFiniteTrainingError, match='more than max_skips=2'):
        _step(hook, runner)


def test_nonfinite_gradient_is_caught():
    model = _Toy()
    runner = _runner(model)
    hook = NonFiniteGuardHook(action='stop')
    hook.before_train(runner)
    model.lin.weight.register_hook(lambda g: g * float('nan'))
    with pytest.raises(NonFiniteTrainingError, match='gradient of lin.weight'):
        _step(hook, runner)


def test_nonfinite_checkpoint_refused():
    hook = NonFiniteGuardHook()
    ckpt = dict(meta={}, state_dict={'w': torch.tensor([1.0, float('inf')])})
    with pytest.raises(NonFiniteTrainingError, match='refusing to save'):
        hook.before_save_checkpoint(SimpleNamespace(iter=9), ckpt)


# -- end to end ---------------------------------------------------------------------
EXPLODE_CFG = """_base_ = [{base!r}]
# lr x1e8 from the 4th iteration on: the weights blow up, the losses follow
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, begin=0, end=100,
                        milestones=[3], gamma=1e8)]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10.0))
train_cfg = dict(max_iters=12, val_interval=1000)
train_dataloader = dict(batch_size=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=20), logger=dict(interval=1),
                     nonfinite_guard=dict(action={action!r}, max_skips=2),
                     # no drawing: this run tests the guard only
                     visualization=dict(_delete_=True, type='DetVisualizationHook', draw=False))
log_processor = dict(window_size=1)
"""


@pytest.fixture(scope='module')
def explode_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('nan')
    data = osp.join(ROOT, 'tests', 'data')
    build_tiny_densepose_coco(str(root / 'work_dirs' / 'tiny_densepose_coco'),
                              osp.join(data, 'coco_tiny'),
                              osp.join(data, 'densepose_real', 'example_results.json'))
    return root


@pytest.mark.parametrize('action', ['stop', 'skip'])
def test_huge_lr_run_stops_with_finite_last_checkpoint(explode_root, action):
    cfg = explode_root / f'explode_{action}.py'
    cfg.write_text(EXPLODE_CFG.format(base=DP_CONFIG, action=action))
    work_dir = explode_root / action
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(cfg),
                           '--work-dir', str(work_dir)], cwd=explode_root, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert 'NonFiniteTrainingError' in out, out[-3000:]
    if action == 'skip':
        assert out.count('optimizer step skipped') == 2, out[-3000:]
        assert 'more than max_skips=2' in out
    import re
    named = re.findall(r'NonFiniteGuardHook: (loss term\(s\) \S+|gradient of \S+) ', out)
    assert named and ('loss_' in named[0] or 'gradient of' in named[0]), out[-3000:]
    assert not osp.isfile(work_dir / 'iter_12.pth')
    last = (work_dir / 'last_checkpoint').read_text().strip()
    allow_mmengine_checkpoint_globals()
    ckpt = torch.load(last, weights_only=True)
    assert ckpt['meta']['iter'] >= 3
    assert nonfinite_state_keys(ckpt['state_dict']) == []


DIST_SCRIPT = '''
import os, socket, sys
from types import SimpleNamespace
import torch
import torch.multiprocessing as mp
from mmengine.logging import MMLogger
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmdensekd.engine.hooks import NonFiniteGuardHook, NonFiniteTrainingError


class Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)
        self.scale = 1.0

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss_main=self.lin(inputs).mean() * self.scale)


def run(rank, port):
    torch.distributed.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                                         rank=rank, world_size=2)
    model = Toy()
    ddp = MMDistributedDataParallel(module=model)
    optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.1))
    runner = SimpleNamespace(model=ddp, optim_wrapper=optim, iter=0,
                             logger=MMLogger.get_instance(f'rank{rank}'))
    hook = NonFiniteGuardHook(action='stop')
    hook.before_train(runner)
    ddp.train_step(dict(inputs=torch.randn(4, 2)), optim)
    model.scale = float('nan') if rank == 1 else 1.0  # only rank 1 goes bad
    try:
        ddp.train_step(dict(inputs=torch.randn(4, 2)), optim)
        print(f'rank {rank} went on', flush=True)
    except NonFiniteTrainingError as err:
        print(f'rank {rank} stopped: {err}', flush=True)


if __name__ == '__main__':
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(run, args=(port, ), nprocs=2)
'''


def test_ranks_stop_together_instead_of_hanging(tmp_path):
    script = tmp_path / 'dist_guard.py'
    script.write_text(DIST_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=240)  # a hang fails here
    out = proc.stdout + proc.stderr
    assert 'rank 1 stopped: NonFiniteGuardHook: loss term(s) loss_main non-finite' in out, out
    assert 'rank 0 stopped: NonFiniteGuardHook: loss term(s) (on another rank)' in out, out
    assert 'went on' not in out
