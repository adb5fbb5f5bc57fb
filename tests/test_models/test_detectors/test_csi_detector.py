# Copyright (c) mmdensekd contributors. All rights reserved.
"""CSIDetector: MTN + detector as a model of its own."""
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmdensekd.models.detectors.csi_detector import resolve_cfg_path
from mmdensekd.registry import MODELS
from mmdensekd.utils import register_all_modules

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
TINY = osp.join(ROOT, 'configs', 'densepose_rcnn', 'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
MTN = dict(type='ModalityTranslationNetwork', amp_shape=(3, 6, 4), encoder_dims=(16, ),
           fusion_dims=(16, ), fusion_size=8, conv_channels=(8, 8), out_size=(32, 48))


def test_resolve_cfg_path_merges_overrides(tmp_path, monkeypatch):
    resolved = resolve_cfg_path(dict(cfg_path=TINY, backbone=dict(base_channels=16),
                                     roi_head=dict(densepose_predictor=dict(
                                         loss_densepose=dict(loss_weight=0.6)))))
    base = Config.fromfile(TINY).model
    assert resolved.backbone.base_channels == 16
    assert resolved.backbone.depth == base.backbone.depth  # the rest kept
    assert resolved.roi_head.densepose_predictor.loss_densepose.loss_weight == 0.6
    assert resolved.roi_head.densepose_predictor.loss_densepose.type == \
        base.roi_head.densepose_predictor.loss_densepose.type
    assert resolve_cfg_path(dict(type='X', a=1)) == dict(type='X', a=1)
    # a repository-relative path works from any working directory
    rel = osp.relpath(TINY, ROOT)
    monkeypatch.chdir(tmp_path)
    assert resolve_cfg_path(dict(cfg_path=rel)) == base
    with pytest.raises(FileNotFoundError, match='student.cfg_path.*nope.py'):
        resolve_cfg_path(dict(cfg_path=str(tmp_path / 'nope.py')), 'student')


def test_csi_detector_trains_and_predicts_alone():
    register_all_modules()
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(dict(
            type='CSIDetector', mtn=MTN, detector=dict(cfg_path=TINY),
            data_preprocessor=dict(type='PairedDataPreprocessor', csi_image_shape=(64, 96),
                                   csi_mean=[1.0, 0.0], csi_std=[2.0, 1.0])))
    model.init_weights()
    csi = torch.randn(2, 3, 6, 4)
    sample = DetDataSample(metainfo=dict(img_shape=(64, 96), ori_shape=(128, 192),
                                         scale_factor=(0.5, 0.5)))
    # the MTN's 32x48 output is resized to the samples' batch_input_shape
    data = model.data_preprocessor(dict(inputs=dict(csi=[csi]), data_samples=[sample]))
    img = model.csi_to_image(data['inputs'], data['data_samples'])
    assert img.shape == (1, 3, 64, 96)
    assert model.csi_to_image(data['inputs']['csi']).shape == (1, 3, 32, 48)  # no samples
    model.eval()
    with torch.no_grad():
        out = model.test_step(dict(inputs=dict(csi=[csi]), data_samples=[sample]))
    assert out[0].pred_instances.bboxes.shape[1] == 4
    with pytest.raises(KeyError, match="no 'csi'"):
        model.csi_to_image(dict(img=torch.zeros(1, 3, 8, 8)))
    with pytest.raises(ValueError, match=r'\(B, 2, \.\.\.\)'):
        model.csi_to_image(torch.zeros(1, 3, 6, 4))
