# Copyright (c) mmdensekd contributors. All rights reserved.
"""The full recipe (tools/misc/full_recipe.py): its student config in every
sensing layout builds and takes one training step."""
import argparse
import copy
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope

from mmdensekd.utils import register_all_modules

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def recipe(load_tool):
    return load_tool('misc/full_recipe.py')


def _options(opts):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *opts]).cfg_options


def test_generator_flags_name_the_sensing_and_the_sequences(recipe):
    args = recipe.parse_args(['--sensing', 'mmfi', '--sequence-frames', '12'])
    flags = recipe.generator_flags(args, 'work_dirs/x/data')
    assert flags[flags.index('--sensing') + 1] == 'mmfi'
    assert flags[flags.index('--sequence-frames') + 1] == '12'
    assert flags[flags.index('--max-people') + 1] == '1'
    tiny = recipe.parse_args(['--tiny'])
    assert tiny.student_iters == recipe.TINY['student_iters'] < args.student_iters


def test_ratio_bars(recipe):
    row = dict(zip(('box AP', 'kpt AP', 'GPS AP'), (0.6, 0.5, 0.4)))
    summary = dict(val=dict(teacher=row, student=dict(zip(row, (0.31, 0.14, 0.13))),
                            control=dict(zip(row, (0.01, 0.0, 0.0)))))
    bars = recipe.ratio_bars(summary)
    assert [b[:6] for b in bars] == ['[PASS]', '[FAIL]', '[PASS]', '[PASS]']


@pytest.mark.parametrize('sensing', ['person-in-wifi', 'mmfi', 'person-in-wifi-3d',
                                     'person-in-wifi-4w', 'person-in-wifi-3d-4w'])
def test_each_sensing_builds_and_takes_one_training_step(recipe, sensing, tmp_path, monkeypatch):
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DATASETS, MODELS

    from mmdensekd.simulation import generate_dataset
    from mmdensekd.simulation.writer import SENSING
    from mmdensekd.structures.csi_layout import CSI_LAYOUTS
    monkeypatch.chdir(REPO)  # teacher_cfg is relative to the repository
    register_all_modules()
    data_root = str(tmp_path / 'world')
    generate_dataset(data_root, num_train=2, num_val=0, num_test_layout=0, img_size=(128, 96),
                     max_people=1, layouts=1, workers=1, progress=False, seed=0,
                     sensing=sensing, sequence_frames=2)
    cfg = Config.fromfile(str(REPO / recipe.STUDENT_CFG))
    cfg.merge_from_dict(_options(recipe.sensing_options(cfg, sensing)
                                 + recipe.qs.data_options(data_root, True)))
    cfg.model.update(teacher_ckpt=None, allow_uninitialized_teacher=True)
    cfg.model.student.detector.init_cfg = None  # no teacher checkpoint in tests
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.train()
        ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
        ds_cfg.update(ann_file='annotations/densepose_train.json')
        dataset = DATASETS.build(ds_cfg)
        data = pseudo_collate([dataset[0], dataset[1]])
        before = {n: p.detach().clone() for n, p in model.named_parameters()
                  if n.startswith('student.mtn.')}
        log = model.train_step(data, build_optim_wrapper(model, cfg.optim_wrapper))
    shape = CSI_LAYOUTS[SENSING[sensing]['csi_layout']].shape
    assert tuple(data['inputs']['csi'][0].shape) == (2, ) + shape
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values()), log
    assert {'distill.loss_transfer', 'student.loss_keypoint'} <= set(log)
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters()
               if n in before)
    # a config of one sensing refuses another sensing's data
    other = 'mmfi' if sensing != 'mmfi' else 'person-in-wifi'
    bad = copy.deepcopy(cfg.train_dataloader.dataset)
    bad.update(csi_layout=CSI_LAYOUTS[SENSING[other]['csi_layout']].name,
               ann_file='annotations/densepose_train.json')
    with pytest.raises(ValueError, match='meta.json'):
        DATASETS.build(bad)
