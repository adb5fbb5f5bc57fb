# Copyright (c) mmdensekd contributors. All rights reserved.
"""The student ablation's rows (tools/misc/student_ablation.py)."""
import argparse

import pytest
from mmengine.config import Config, DictAction


@pytest.fixture(scope='module')
def ablation(load_tool):
    return load_tool('misc/student_ablation.py')


def _apply(ablation, opts):
    p = argparse.ArgumentParser()
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(f'{ablation.qs.ROOT}/{ablation.qs.STUDENT_CFG}')
    cfg.merge_from_dict(p.parse_args(['--cfg-options'] + opts).cfg_options)
    return cfg


def test_each_row_changes_one_thing(ablation):
    base = _apply(ablation, ablation.row_options('no-transfer', 1000)[:7])
    assert base.train_cfg.max_iters == 1000
    cfgs = {name: _apply(ablation, ablation.row_options(name, 1000)) for name in ablation.ROWS}
    transfer = {n: c.model.distiller.distill_losses.loss_transfer.loss_weight
                for n, c in cfgs.items()}
    assert transfer.pop('no-transfer') == 0 and transfer.pop('transfer-x10') == 1.0
    assert transfer.pop('transfer-x10-iters-2000') == 1.0  # the two together
    assert set(transfer.values()) == {0.1}
    longer = ('iters-2000', 'transfer-x10-iters-2000')
    for name in longer:
        assert cfgs[name].train_cfg.max_iters == 2000
        assert cfgs[name].param_scheduler[1].milestones == [1600]
    assert {c.train_cfg.max_iters for n, c in cfgs.items() if n not in longer} == {1000}
    assert cfgs['half-data'].train_dataloader.dataset.indices == 300
    assert 'indices' not in cfgs['no-transfer'].train_dataloader.dataset
    kp = cfgs['keypoint-x3'].model.student.detector.roi_head.keypoint_head.loss_keypoint
    assert kp.loss_weight == 0.9
    scratch = cfgs['from-scratch']
    assert scratch.model.student.detector.init_cfg is None
    assert scratch.optim_wrapper.paramwise_cfg is None
    assert cfgs['no-transfer'].optim_wrapper.paramwise_cfg.custom_keys


def test_needs_a_finished_quickstart(ablation, tmp_path):
    with pytest.raises(SystemExit, match='run tools/misc/quickstart.py'):
        ablation.main(['--work-dir', str(tmp_path)])


def test_table_lists_the_quickstart_then_each_row(ablation, tmp_path):
    res = {k: 0.5 for k in ablation.COLUMNS}
    ctl = {k: 0.1 for k in ablation.COLUMNS}
    md = ablation.write_table(str(tmp_path), dict(student=res, control=ctl),
                              {'half-data': dict(student=ctl, control=res)},
                              dict(seed=0, machine='2 CPU cores', wall_min=1.0))
    lines = open(md).read().splitlines()
    rows = [line for line in lines if line.startswith('| quickstart') or
            line.startswith('| half-data')]
    assert rows[0].count('0.500') == 4 and rows[0].count('0.100') == 4
    assert rows[1].startswith('| half-data | half the training frames')
    assert rows[1].split('|')[3].strip() == '0.100'
