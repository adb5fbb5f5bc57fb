# Copyright (c) mmdensekd contributors. All rights reserved.
import collections
import importlib.util
import os.path as osp
import pickle
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdensekd.registry import MODELS
from mmdensekd.utils import register_all_modules

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                  'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
_spec = importlib.util.spec_from_file_location(
    'detectron2_to_mmdensekd',
    osp.join(ROOT, 'tools', 'model_converters', 'detectron2_to_mmdensekd.py'))
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

# Our name -> detectron2 name, written independently of the converter's rules.
_TO_D2 = [
    (r'^backbone\.conv1\.weight$', 'backbone.bottom_up.stem.conv1.weight'),
    (r'^backbone\.bn1\.(\w+)$', r'backbone.bottom_up.stem.conv1.norm.\1'),
    (r'^backbone\.layer1\.(\d+)\.conv(\d)\.weight$', r'backbone.bottom_up.res2.\1.conv\2.weight'),
    (r'^backbone\.layer2\.(\d+)\.conv(\d)\.weight$', r'backbone.bottom_up.res3.\1.conv\2.weight'),
    (r'^backbone\.layer3\.(\d+)\.conv(\d)\.weight$', r'backbone.bottom_up.res4.\1.conv\2.weight'),
    (r'^backbone\.layer4\.(\d+)\.conv(\d)\.weight$', r'backbone.bottom_up.res5.\1.conv\2.weight'),
    (r'^backbone\.layer1\.(\d+)\.bn(\d)\.(\w+)$', r'backbone.bottom_up.res2.\1.conv\2.norm.\3'),
    (r'^backbone\.layer2\.(\d+)\.bn(\d)\.(\w+)$', r'backbone.bottom_up.res3.\1.conv\2.norm.\3'),
    (r'^backbone\.layer3\.(\d+)\.bn(\d)\.(\w+)$', r'backbone.bottom_up.res4.\1.conv\2.norm.\3'),
    (r'^backbone\.layer4\.(\d+)\.bn(\d)\.(\w+)$', r'backbone.bottom_up.res5.\1.conv\2.norm.\3'),
    (r'^backbone\.layer2\.0\.downsample\.0\.weight$', 'backbone.bottom_up.res3.0.shortcut.weight'),
    (r'^backbone\.layer3\.0\.downsample\.0\.weight$', 'backbone.bottom_up.res4.0.shortcut.weight'),
    (r'^backbone\.layer4\.0\.downsample\.0\.weight$', 'backbone.bottom_up.res5.0.shortcut.weight'),
    (r'^backbone\.layer2\.0\.downsample\.1\.(\w+)$', r'backbone.bottom_up.res3.0.shortcut.norm.\1'),
    (r'^backbone\.layer3\.0\.downsample\.1\.(\w+)$', r'backbone.bottom_up.res4.0.shortcut.norm.\1'),
    (r'^backbone\.layer4\.0\.downsample\.1\.(\w+)$', r'backbone.bottom_up.res5.0.shortcut.norm.\1'),
    (r'^neck\.lateral_convs\.0\.conv\.(\w+)$', r'backbone.fpn_lateral2.\1'),
    (r'^neck\.lateral_convs\.1\.conv\.(\w+)$', r'backbone.fpn_lateral3.\1'),
    (r'^neck\.lateral_convs\.2\.conv\.(\w+)$', r'backbone.fpn_lateral4.\1'),
    (r'^neck\.lateral_convs\.3\.conv\.(\w+)$', r'backbone.fpn_lateral5.\1'),
    (r'^neck\.fpn_convs\.0\.conv\.(\w+)$', r'backbone.fpn_output2.\1'),
    (r'^neck\.fpn_convs\.1\.conv\.(\w+)$', r'backbone.fpn_output3.\1'),
    (r'^neck\.fpn_convs\.2\.conv\.(\w+)$', r'backbone.fpn_output4.\1'),
    (r'^neck\.fpn_convs\.3\.conv\.(\w+)$', r'backbone.fpn_output5.\1'),
    (r'^rpn_head\.rpn_conv\.(\w+)$', r'proposal_generator.rpn_head.conv.\1'),
    (r'^rpn_head\.rpn_cls\.(\w+)$', r'proposal_generator.rpn_head.objectness_logits.\1'),
    (r'^rpn_head\.rpn_reg\.(\w+)$', r'proposal_generator.rpn_head.anchor_deltas.\1'),
    (r'^roi_head\.bbox_head\.shared_fcs\.0\.(\w+)$', r'roi_heads.box_head.fc1.\1'),
    (r'^roi_head\.bbox_head\.shared_fcs\.1\.(\w+)$', r'roi_heads.box_head.fc2.\1'),
    (r'^roi_head\.bbox_head\.fc_cls\.(\w+)$', r'roi_heads.box_predictor.cls_score.\1'),
    (r'^roi_head\.bbox_head\.fc_reg\.(\w+)$', r'roi_heads.box_predictor.bbox_pred.\1'),
    (r'^roi_head\.densepose_head\.convs\.0\.(\w+)$', r'roi_heads.densepose_head.body_conv_fcn1.\1'),
    (r'^roi_head\.densepose_head\.convs\.2\.(\w+)$', r'roi_heads.densepose_head.body_conv_fcn2.\1'),
    (r'^roi_head\.densepose_predictor\.coarse_segm_lowres\.(\w+)$',
     r'roi_heads.densepose_predictor.ann_index_lowres.\1'),
    (r'^roi_head\.densepose_predictor\.fine_segm_lowres\.(\w+)$',
     r'roi_heads.densepose_predictor.index_uv_lowres.\1'),
    (r'^roi_head\.densepose_predictor\.([uv])_lowres\.(\w+)$',
     r'roi_heads.densepose_predictor.\1_lowres.\2'),
]


def _d2_name(key):
    for pattern, repl in _TO_D2:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    raise AssertionError(f'test has no detectron2 name for {key}')


@pytest.fixture(scope='module')
def model():
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmdet')
    return MODELS.build(cfg.model)


@pytest.fixture()
def fake_d2(model):
    """A detectron2-named parameter dict with the tiny model's shapes."""
    rng = np.random.default_rng(0)
    state = collections.OrderedDict()
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            continue  # detectron2's FrozenBN has none
        array = rng.standard_normal(tuple(value.shape)).astype(np.float32)
        if key.endswith('running_var'):
            array = np.abs(array) + 0.5
        state[_d2_name(key)] = array
    state['pixel_mean'] = np.array([103.53, 116.28, 123.675], np.float32).reshape(3, 1, 1)
    state['roi_heads.mask_head.mask_fcn1.weight'] = np.zeros((4, 4, 3, 3), np.float32)
    return state


def test_convert_and_load_strict(model, fake_d2):
    result = tool.convert_state_dict(fake_d2)
    assert result['unconverted'] == ['roi_heads.mask_head.mask_fcn1.weight']
    assert result['pixel_mean'] == pytest.approx([103.53, 116.28, 123.675])
    model.load_state_dict(result['state_dict'], strict=True)
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    np.testing.assert_array_equal(
        params['roi_head.densepose_predictor.coarse_segm_lowres.weight'].detach().numpy(),
        fake_d2['roi_heads.densepose_predictor.ann_index_lowres.weight'])
    np.testing.assert_array_equal(
        params['roi_head.densepose_predictor.fine_segm_lowres.bias'].detach().numpy(),
        fake_d2['roi_heads.densepose_predictor.index_uv_lowres.bias'])
    np.testing.assert_array_equal(
        params['roi_head.densepose_head.convs.2.weight'].detach().numpy(),
        fake_d2['roi_heads.densepose_head.body_conv_fcn2.weight'])
    np.testing.assert_array_equal(
        buffers['backbone.layer2.0.downsample.1.running_var'].numpy(),
        fake_d2['backbone.bottom_up.res3.0.shortcut.norm.running_var'])
    np.testing.assert_array_equal(params['neck.fpn_convs.3.conv.bias'].detach().numpy(),
                                  fake_d2['backbone.fpn_output5.bias'])
    np.testing.assert_array_equal(params['rpn_head.rpn_reg.weight'].detach().numpy(),
                                  fake_d2['proposal_generator.rpn_head.anchor_deltas.weight'])
    np.testing.assert_array_equal(params['roi_head.bbox_head.fc_cls.weight'].detach().numpy(),
                                  fake_d2['roi_heads.box_predictor.cls_score.weight'])
    assert int(buffers['backbone.bn1.num_batches_tracked']) == 0


def test_frozen_bn_without_running_stats(fake_d2):
    del fake_d2['backbone.bottom_up.stem.conv1.norm.running_mean']
    del fake_d2['backbone.bottom_up.stem.conv1.norm.running_var']
    state = tool.convert_state_dict(fake_d2)['state_dict']
    width = fake_d2['backbone.bottom_up.stem.conv1.weight'].shape[0]
    assert torch.equal(state['backbone.bn1.running_mean'], torch.zeros(width))
    assert torch.equal(state['backbone.bn1.running_var'], torch.ones(width))
    assert state['backbone.bn1.num_batches_tracked'].dtype == torch.long


def test_keypoint_and_head_key_mapping():
    assert tool.convert_key('roi_heads.keypoint_head.conv_fcn1.weight') == \
        'roi_head.keypoint_head.convs.0.weight'
    assert tool.convert_key('roi_heads.keypoint_head.conv_fcn8.bias') == \
        'roi_head.keypoint_head.convs.14.bias'
    assert tool.convert_key('roi_heads.keypoint_head.score_lowres.weight') == \
        'roi_head.keypoint_head.deconv.weight'
    assert tool.convert_key('roi_heads.densepose_head.body_conv_fcn8.weight') == \
        'roi_head.densepose_head.convs.14.weight'
    assert tool.convert_key('backbone.bottom_up.res5.2.conv3.norm.bias') == \
        'backbone.layer4.2.bn3.bias'
    assert tool.convert_key('roi_heads.densepose_predictor.sigma_2_lowres.weight') is None
    assert tool.fpn_base_stage(['backbone.fpn_lateral3.bias', 'backbone.fpn_lateral4.bias']) == 3
    assert tool.convert_key('backbone.fpn_lateral3.weight', 3) == 'neck.lateral_convs.0.conv.weight'


def test_main_pkl_with_config(fake_d2, tmp_path, capsys):
    src = tmp_path / 'model_final.pkl'
    with open(src, 'wb') as f:
        pickle.dump({'model': fake_d2, '__author__': 'test'}, f)
    dst = tmp_path / 'out' / 'converted.pth'
    result = tool.main([str(src), str(dst), '--config', CONFIG])
    assert result['check'] == dict(missing=[], unexpected=[], mismatched=[])
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert saved['meta']['source'] == 'detectron2'
    np.testing.assert_array_equal(saved['state_dict']['roi_head.densepose_predictor.v_lowres.weight'],
                                  fake_d2['roi_heads.densepose_predictor.v_lowres.weight'])
    out = capsys.readouterr().out
    assert 'not converted: roi_heads.mask_head.mask_fcn1.weight' in out
    assert 'bgr_to_rgb=False' in out and "style='caffe'" in out
    assert 'config note: data_preprocessor.mean=' in out  # tiny config uses RGB ImageNet stats


def test_strict_check_reports_mismatch(fake_d2, tmp_path, capsys):
    fake_d2['roi_heads.box_predictor.cls_score.weight'] = np.zeros((81, 128), np.float32)
    del fake_d2['backbone.fpn_output2.bias']
    src = tmp_path / 'model.pth'
    torch.save({'model': {k: torch.from_numpy(v) for k, v in fake_d2.items()}}, src)
    dst = tmp_path / 'converted.pth'
    with pytest.raises(SystemExit):
        tool.main([str(src), str(dst), '--config', CONFIG, '--strict'])
    out = capsys.readouterr().out
    assert 'missing in checkpoint: neck.fpn_convs.0.conv.bias' in out
    assert ('shape mismatch: roi_head.bbox_head.fc_cls.weight checkpoint (81, 128) vs model '
            '(2, 128)') in out
    assert not dst.exists()


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.pkl'):
        tool.load_detectron2_checkpoint(str(tmp_path / 'absent.pkl'))
    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(pickle.dumps({'model': collections.Counter(a=1)}))
    with pytest.raises(ValueError, match='refused global collections.Counter'):
        tool.load_detectron2_checkpoint(str(evil))
    blobs = tmp_path / 'c2.pkl'
    blobs.write_bytes(pickle.dumps({'blobs': {'conv1_w': np.zeros(1)}}))
    with pytest.raises(ValueError, match='Caffe2'):
        tool.load_detectron2_checkpoint(str(blobs))


def test_detectron2_layout_config_has_no_notes():
    """The -d2 config reproduces detectron2's preprocessing and pooling; our own
    recipe differs and is reported."""
    root = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'densepose_rcnn')
    d2 = Config.fromfile(osp.join(root, 'densepose-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py'))
    ours = Config.fromfile(osp.join(root, 'densepose-rcnn_r50_fpn_s1x_densepose-coco.py'))
    assert tool.config_notes(d2, has_densepose=True) == []
    notes = ' '.join(tool.config_notes(ours, has_densepose=True))
    assert 'caffe' in notes and 'aligned=True' in notes
