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
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement

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


def _sample(meta):
    return SimpleNamespace(metainfo=meta)


def test_absurd_or_nonfinite_input_stops_naming_the_sample():
    model = _Toy()
    runner = _runner(model)
    hook = NonFiniteGuardHook()
    hook.before_train(runner)
    batch = dict(inputs=dict(img=[torch.zeros(2, dtype=torch.uint8)] * 2,
                             csi=[torch.ones(2), torch.tensor([1.0, 1e30])]),
                 data_samples=[_sample(dict(img_path='a.jpg', csi_path='a.mat')),
                               _sample(dict(img_path='b.jpg', csi_path='b.mat', sample_idx=7))])
    with pytest.raises(NonFiniteTrainingError,
                       match=r"input 'csi' of sample 1 \(img_path=b.jpg, csi_path=b.mat, "
                       r"sample_idx=7\) has max \|x\| = 1e\+30 > max_input_abs=1e\+08 at "
                       r'iteration 5; training stopped'):
        hook.before_train_iter(runner, 0, data_batch=batch)
    batch['inputs']['csi'][1] = torch.tensor([float('nan'), 0.0])
    hook = NonFiniteGuardHook(max_input_abs=None)
    hook.before_train(runner)
    with pytest.raises(NonFiniteTrainingError, match=r"input 'csi' of sample 1 .* NaN/Inf"):
        hook.before_train_iter(runner, 0, data_batch=batch)
    batch['inputs']['csi'][1] = torch.tensor([1e30, 0.0])  # no bound: finite is fine
    hook.before_train_iter(runner, 0, data_batch=batch)
    with pytest.raises(ValueError, match='max_input_abs'):
        NonFiniteGuardHook(max_input_abs=0)


def test_nonfinite_buffer_stops_naming_buffer_and_batch():
    model = _Toy()
    runner = _runner(model)
    hook = NonFiniteGuardHook()
    hook.before_train(runner)
    batch = dict(inputs=torch.randn(4, 2),
                 data_samples=[_sample(dict(img_path=f'{i}.jpg')) for i in range(4)])
    hook.before_train_iter(runner, 0, data_batch=batch)
    model.train_step(dict(inputs=batch['inputs']), runner.optim_wrapper)
    with torch.no_grad():
        model.bn.running_var[1] = float('inf')
    with pytest.raises(NonFiniteTrainingError,
                       match=r'buffer\(s\) bn.running_var became non-finite on the batch of '
                       r'sample 0 \(img_path=0.jpg\); sample 1 .* at iteration 5; training '
                       r'stopped .*No checkpoint was written'):
        hook.after_train_iter(runner, 0, data_batch=batch)


def test_nonfinite_buffer_restored_with_skip():
    model = _Toy()
    runner = _runner(model)
    hook = NonFiniteGuardHook(action='skip', max_skips=1)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    before = model.bn.running_var.clone()
    with torch.no_grad():
        model.bn.running_var[0] = float('inf')
    hook.after_train_iter(runner, 0)
    assert hook.num_skipped == 1
    assert torch.equal(model.bn.running_var, before)


class _CSIFrames(torch.utils.data.Dataset):
    """Six CSI frames; frame 5 has an absurd (finite) amplitude."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        csi = torch.randn(2, generator=torch.Generator().manual_seed(i))
        if i == 5:
            csi = csi * 1e30
        return dict(inputs=dict(csi=csi),
                    data_samples=BaseDataElement(metainfo=dict(csi_path=f'frame{i:03d}.mat',
                                                               sample_idx=i)))


class _CSIModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(2)
        self.lin = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.lin(self.bn(torch.stack(inputs['csi']))).pow(2).mean())


@pytest.mark.parametrize('max_input_abs', [1e8, None])
def test_absurd_csi_frame_stops_run_with_finite_last_checkpoint(tmp_path, max_input_abs):
    """Issue 24 #5: the run stops at the absurd frame (named when the input
    check sees it; otherwise at the first non-finite buffer, loss or
    gradient), and the last checkpoint stays finite."""
    runner = Runner(
        model=_CSIModel(), work_dir=str(tmp_path), experiment_name=f'csi_{max_input_abs}',
        train_dataloader=dict(dataset=_CSIFrames(),
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=6),
        default_hooks=dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                                           by_epoch=False, max_keep_ckpts=1)),
        custom_hooks=[dict(type='NonFiniteGuardHook', max_input_abs=max_input_abs)],
        default_scope='mmdet')
    with pytest.raises(NonFiniteTrainingError) as info:
        runner.train()
    msg = str(info.value)
    assert 'at iteration 3' in msg
    if max_input_abs is not None:
        assert "input 'csi' of sample 1 (csi_path=frame005.mat, sample_idx=5)" in msg
    with open(tmp_path / 'last_checkpoint') as f:
        last = f.read()
    assert osp.basename(last) == 'iter_2.pth'
    allow_mmengine_checkpoint_globals()
    state = torch.load(last, weights_only=True)['state_dict']
    assert nonfinite_state_keys(state) == []


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
