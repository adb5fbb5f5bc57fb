# Copyright (c) mmdensekd contributors. All rights reserved.
"""The student of a distillation config as a model of its own: its config,
its weights in a distillation checkpoint, CSI-only inference."""
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmdensekd.apis import extract_student_state_dict, init_model, student_config
from mmdensekd.datasets.csi_stats import write_csi_stats
from mmdensekd.registry import MODELS
from mmdensekd.utils import register_all_modules

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
WIFI_CFG = osp.join(ROOT, 'configs', 'distill',
                    'kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py')


@pytest.fixture
def distill_checkpoint(tmp_path, monkeypatch):
    """The tiny WiFi algorithm (random, teachers without checkpoints) saved as
    a training checkpoint, with CSI statistics in a meta file."""
    monkeypatch.chdir(ROOT)  # teacher_cfg / cfg_path are relative to the repository
    register_all_modules()
    algo_cfg = Config.fromfile(WIFI_CFG)
    meta = tmp_path / 'meta.json'
    write_csi_stats(str(meta), dict(csi_mean=[40.0, 0.0], csi_std=[4.0, 1.0]))
    algo_cfg.model.update(teacher_ckpt=None, allow_uninitialized_teacher=True)
    algo_cfg.model.extra_teachers[0].ckpt = None
    algo_cfg.model.student.data_preprocessor.csi_stats_file = str(meta)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        algo = MODELS.build(algo_cfg.model)
    path = tmp_path / 'iter_60.pth'
    torch.save(dict(state_dict=algo.state_dict(), meta=dict()), path)
    return str(path), algo, str(meta)


def test_student_config_is_the_csi_detector():
    cfg = student_config(WIFI_CFG)
    assert cfg.model.type == 'CSIDetector'
    assert cfg.model.data_preprocessor.type == 'PairedDataPreprocessor'
    assert cfg.model.mtn.amp_shape == (3, 114, 10)
    assert cfg.val_cfg.type == 'ValLoop'
    assert not any(h.type in ('TeacherFrozenCheckHook', 'DistillLossWeightHook')
                   for h in cfg.custom_hooks)
    # a config that is not a distillation config comes back as it is
    plain = osp.join(ROOT, 'configs', 'densepose_rcnn',
                     'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
    assert student_config(plain).model.type == 'DensePoseRCNN'


def test_distillation_checkpoint_loads_into_student_config(distill_checkpoint):
    path, algo, meta = distill_checkpoint
    cfg = student_config(WIFI_CFG)
    cfg.model.data_preprocessor.csi_stats_file = meta
    model = init_model(cfg, path)
    own = model.state_dict()
    for key, value in algo.student.state_dict().items():
        assert torch.equal(own[key], value), key
    assert model.data_preprocessor.csi_mean.tolist() == [40.0, 0.0]
    # CSI-only inference on packed inputs, as the WiFi demo runs it
    torch.manual_seed(1)
    sample = DetDataSample(metainfo=dict(img_shape=(96, 144), ori_shape=(96, 144),
                                         scale_factor=(1.0, 1.0)))
    data = dict(inputs=dict(csi=[torch.randn(2, 3, 114, 10)]), data_samples=[sample])
    model.data_preprocessor.csi_image_shape = (96, 144)
    with torch.no_grad():
        out = model.test_step(data)
    assert len(out) == 1 and 'bboxes' in out[0].pred_instances


def test_extract_student_state_dict_maps_legacy_keys():
    w = torch.ones(1)
    state = {'module.student.backbone.w': w, 'student_mtn.fc.weight': w * 2,
             'teacher.backbone.w': w * 3}
    out = extract_student_state_dict(dict(state_dict=state))
    assert set(out) == {'detector.backbone.w', 'mtn.fc.weight'}
    assert out['mtn.fc.weight'].item() == 2
    new = extract_student_state_dict({'student.mtn.a': w, 'student.detector.b': w})
    assert set(new) == {'mtn.a', 'detector.b'}
    with pytest.raises(ValueError, match="no key starts with 'student.'"):
        extract_student_state_dict({'backbone.w': w})
