# Copyright (c) mmdensekd contributors. All rights reserved.
import collections
import copy
import functools
import importlib.util
import os.path as osp
import pickle
import re

import numpy as np
import pytest
import torch
from mmcv.ops import RoIAlign
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdensekd.registry import MODELS
from mmdensekd.utils import register_all_modules

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                  'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
CONFIGS = osp.join(ROOT, 'configs')
S1X_D2 = osp.join(CONFIGS, 'densepose_rcnn',
                  'densepose-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py')
S1X = osp.join(CONFIGS, 'densepose_rcnn', 'densepose-rcnn_r50_fpn_s1x_densepose-coco.py')
LEGACY = osp.join(CONFIGS, 'densepose_rcnn', 'densepose-rcnn_r50_fpn_s1x-legacy_densepose-coco.py')
KPT = osp.join(CONFIGS, 'keypoint_rcnn', 'keypoint-rcnn_r50_fpn_1x_coco.py')
KEYS_DIR = osp.join(ROOT, 'tests', 'data', 'detectron2_keys')
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
    (r'^roi_head\.densepose_roi_extractor\.decoder\.scale_heads\.0\.(\d+)\.conv\.(\w+)$',
     r'roi_heads.decoder.p2.\1.\2'),
    (r'^roi_head\.densepose_roi_extractor\.decoder\.scale_heads\.1\.(\d+)\.conv\.(\w+)$',
     r'roi_heads.decoder.p3.\1.\2'),
    (r'^roi_head\.densepose_roi_extractor\.decoder\.scale_heads\.2\.(\d+)\.conv\.(\w+)$',
     r'roi_heads.decoder.p4.\1.\2'),
    (r'^roi_head\.densepose_roi_extractor\.decoder\.scale_heads\.3\.(\d+)\.conv\.(\w+)$',
     r'roi_heads.decoder.p5.\1.\2'),
    (r'^roi_head\.densepose_roi_extractor\.decoder\.predictor\.(\w+)$',
     r'roi_heads.decoder.predictor.\1'),
]

# The tiny model with detectron2's DensePose decoder (smaller dims).
TINY_DECODER_EXTRACTOR = dict(
    type='DecoderRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=2, aligned=False),
    out_channels=64, featmap_strides=[4, 8, 16, 32],
    decoder=dict(type='DensePoseDecoder', in_channels=64, conv_channels=32, out_channels=64))


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
    # confidence layers keep detectron2's names; the DeepLab head too (with its norms)
    assert tool.convert_key('roi_heads.densepose_predictor.sigma_2_lowres.weight') == \
        'roi_head.densepose_predictor.sigma_2_lowres.weight'
    assert tool.convert_key('roi_heads.densepose_predictor.embedder.weight') is None
    assert tool.convert_key('roi_heads.densepose_head.body_conv_fcn2.norm.weight',
                            deeplab=True) == 'roi_head.densepose_head.body_conv_fcn2.norm.weight'
    assert tool.convert_key('roi_heads.densepose_head.NLBlock.W.1.bias', deeplab=True) == \
        'roi_head.densepose_head.NLBlock.W.1.bias'
    assert tool.convert_key('roi_heads.densepose_head.ASPP.convs.0.0.weight') is None
    assert tool.fpn_base_stage(['backbone.fpn_lateral3.bias', 'backbone.fpn_lateral4.bias']) == 3
    assert tool.convert_key('backbone.fpn_lateral3.weight', 3) == 'neck.lateral_convs.0.conv.weight'


def test_main_pkl_with_config(fake_d2, tmp_path, capsys):
    src = tmp_path / 'model_final.pkl'
    with open(src, 'wb') as f:
        pickle.dump({'model': fake_d2, '__author__': 'test'}, f)
    dst = tmp_path / 'out' / 'converted.pth'
    # the mask head tensor has no counterpart: refused unless --allow-partial
    with pytest.raises(SystemExit) as exc:
        tool.main([str(src), str(dst), '--config', CONFIG])
    assert exc.value.code == 1 and not dst.exists()
    assert 'refusing to write' in capsys.readouterr().err
    result = tool.main([str(src), str(dst), '--config', CONFIG, '--allow-partial'])
    assert result['check'] == dict(missing=[], unexpected=[], mismatched=[])
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert saved['meta']['source'] == 'detectron2'
    np.testing.assert_array_equal(saved['state_dict']['roi_head.densepose_predictor.v_lowres.weight'],
                                  fake_d2['roi_heads.densepose_predictor.v_lowres.weight'])
    out = capsys.readouterr().out
    assert 'not converted: roi_heads.mask_head.mask_fcn1.weight (4, 4, 3, 3)' in out
    assert '--allow-partial: writing despite 1 detectron2 tensors not converted' in out
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
    captured = capsys.readouterr()
    assert '1 missing model keys; 1 mismatched model keys' in captured.err
    out = captured.out
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


# --- detectron2's real key names and shapes (tests/data/detectron2_keys) ---
def load_key_list(name):
    """detectron2 name -> shape, from a checked-in key list."""
    keys = collections.OrderedDict()
    with open(osp.join(KEYS_DIR, name)) as f:
        for line in f:
            if line.strip() and not line.startswith('#'):
                key, shape = line.split()  # '()': a scalar (num_batches_tracked)
                keys[key] = tuple(int(x) for x in shape.strip('()').split(',') if x)
    return keys


def cell_anchors(level):
    """detectron2's anchors of level P(level+2): size 32 * 2^level, h/w in (0.5, 1, 2)."""
    size = 32.0 * 2**level
    rows = [[-size / np.sqrt(r) / 2, -size * np.sqrt(r) / 2, size / np.sqrt(r) / 2,
             size * np.sqrt(r) / 2] for r in (0.5, 1.0, 2.0)]
    return np.array(rows, np.float32)


def fake_model_zoo(name, seed=0):
    """A model-zoo parameter dict: seeded random arrays of the listed shapes,
    detectron2's real values for pixel statistics and anchors (a new dict
    over cached, read-only arrays: R-50 sizes are slow to draw)."""
    return collections.OrderedDict(_fake_model_zoo(name, seed))


@functools.lru_cache(maxsize=None)
def _fake_model_zoo(name, seed):
    rng = np.random.default_rng(seed)
    state = collections.OrderedDict()
    for key, shape in load_key_list(name).items():
        if key == 'pixel_mean':
            state[key] = np.array([103.53, 116.28, 123.675], np.float32).reshape(shape)
        elif key == 'pixel_std':
            state[key] = np.ones(shape, np.float32)
        elif 'cell_anchors' in key:
            state[key] = cell_anchors(int(key.rsplit('.', 1)[1]))
        elif key.endswith('num_batches_tracked'):  # nn.BatchNorm2d's int64 counter
            state[key] = np.array(rng.integers(1, 10**6), np.int64).reshape(shape)
        else:
            array = rng.standard_normal(shape, dtype=np.float32)
            state[key] = np.abs(array) + 0.5 if key.endswith('running_var') else array
    for array in state.values():
        array.flags.writeable = False
    return state


@pytest.fixture(scope='module')
def model_states():
    """Cache of ``tool.build_model_state`` (R50 models are slow to build)."""
    cache, build = {}, tool.build_model_state

    def get(config):
        if config not in cache:
            cache[config] = build(config)
        return cache[config]

    return get


def assert_round_trip(d2_state, result):
    """Every converted tensor equals its detectron2 source, bit for bit."""
    assert len(result['mapping']) + len(result['consumed']) == len(d2_state)
    for src, dst in result['mapping'].items():
        converted = result['state_dict'][dst]
        assert converted.dtype == (torch.int64 if src.endswith('num_batches_tracked')
                                   else torch.float32), src
        assert tuple(converted.shape) == np.shape(d2_state[src]), src
        assert np.array_equal(converted.numpy(), d2_state[src]), src


def test_key_lists_are_detectron2_layouts():
    s1x = load_key_list('densepose_rcnn_R_50_FPN_s1x.txt')
    legacy = load_key_list('densepose_rcnn_R_50_FPN_s1x_legacy.txt')
    kpt = load_key_list('keypoint_rcnn_R_50_FPN_1x.txt')
    decoder = [k for k in s1x if k.startswith('roi_heads.decoder.')]
    assert decoder == [f'roi_heads.decoder.{m}.{p}'
                       for m in ('p2.0', 'p3.0', 'p4.0', 'p4.2', 'p5.0', 'p5.2', 'p5.4',
                                 'predictor') for p in ('weight', 'bias')]
    assert set(s1x) - set(legacy) == set(decoder)
    assert legacy['roi_heads.densepose_predictor.ann_index_lowres.weight'] == (512, 15, 4, 4)
    assert s1x['roi_heads.densepose_predictor.ann_index_lowres.weight'] == (512, 2, 4, 4)
    assert kpt['roi_heads.keypoint_head.score_lowres.weight'] == (512, 17, 4, 4)
    # ResNet-50: 53 convs, each with a FrozenBN of 4 tensors
    backbone = [k for k in kpt if k.startswith('backbone.bottom_up.')]
    assert len(backbone) == 53 * 5


def test_s1x_decoder_round_trip_into_d2_config(tmp_path, capsys, model_states, monkeypatch):
    """detectron2 s1x (decoder on) -> the -d2 config: every tensor used,
    every model key filled, values unchanged."""
    monkeypatch.setattr(tool, 'build_model_state', model_states)
    d2_state = fake_model_zoo('densepose_rcnn_R_50_FPN_s1x.txt')
    src = tmp_path / 'model_final_162be9.pkl'
    with open(src, 'wb') as f:
        pickle.dump({'model': d2_state, '__author__': 'Detectron2 Model Zoo'}, f)
    dst = tmp_path / 'converted.pth'
    result = tool.main([str(src), str(dst), '--config', S1X_D2])
    assert result['unconverted'] == []
    assert result['check'] == dict(missing=[], unexpected=[], mismatched=[])
    assert_round_trip(d2_state, result)
    mapping = result['mapping']
    assert mapping['roi_heads.decoder.p5.4.weight'] == \
        'roi_head.densepose_roi_extractor.decoder.scale_heads.3.4.conv.weight'
    assert mapping['roi_heads.decoder.p2.0.bias'] == \
        'roi_head.densepose_roi_extractor.decoder.scale_heads.0.0.conv.bias'
    assert mapping['roi_heads.decoder.predictor.weight'] == \
        'roi_head.densepose_roi_extractor.decoder.predictor.weight'
    assert sum(k.startswith('roi_heads.decoder.') for k in mapping) == 16
    assert result['consumed'] == ['pixel_mean', 'pixel_std'] + [
        f'proposal_generator.anchor_generator.cell_anchors.{i}' for i in range(5)]
    out = capsys.readouterr().out
    assert '  not converted:' not in out and 'config note' not in out
    assert 'mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0]' in out
    assert '(7 buffers read, 0 not converted)' in out
    saved = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    np.testing.assert_array_equal(
        saved['roi_head.densepose_roi_extractor.decoder.scale_heads.2.2.conv.weight'].numpy(),
        d2_state['roi_heads.decoder.p4.2.weight'])

    # the standard s1x config has the same model keys (only layout notes differ)
    state, _ = model_states(S1X)
    assert tool.compare_with_model(result['state_dict'], state) == dict(
        missing=[], unexpected=[], mismatched=[])


def test_legacy_and_keypoint_round_trips(model_states):
    for keys, config in (('densepose_rcnn_R_50_FPN_s1x_legacy.txt', LEGACY),
                         ('keypoint_rcnn_R_50_FPN_1x.txt', KPT)):
        d2_state = fake_model_zoo(keys, seed=1)
        result = tool.convert_state_dict(d2_state)
        assert result['unconverted'] == [], keys
        assert_round_trip(d2_state, result)
        state, _ = model_states(config)
        assert tool.compare_with_model(result['state_dict'], state) == dict(
            missing=[], unexpected=[], mismatched=[]), keys


def test_decoder_mismatch_is_refused(tmp_path, capsys, model_states, monkeypatch):
    """The issue's bug: a decoder-on checkpoint into a decoder-off model (or
    the reverse) must not pass as '0 missing'."""
    monkeypatch.setattr(tool, 'build_model_state', model_states)
    legacy = fake_model_zoo('densepose_rcnn_R_50_FPN_s1x_legacy.txt')
    legacy['roi_heads.densepose_predictor.ann_index_lowres.weight'] = \
        legacy['roi_heads.densepose_predictor.ann_index_lowres.weight'][:, :2].copy()
    legacy['roi_heads.densepose_predictor.ann_index_lowres.bias'] = \
        legacy['roi_heads.densepose_predictor.ann_index_lowres.bias'][:2].copy()
    src = tmp_path / 'no_decoder.pkl'
    with open(src, 'wb') as f:
        pickle.dump({'model': legacy}, f)
    dst = tmp_path / 'out.pth'
    with pytest.raises(SystemExit) as exc:
        tool.main([str(src), str(dst), '--config', S1X_D2])
    assert exc.value.code == 1 and not dst.exists()
    captured = capsys.readouterr()
    missing = [line.split(': ', 1)[1] for line in captured.out.splitlines()
               if line.startswith('  missing in checkpoint: ')]
    assert len(missing) == 16 and all('.decoder.' in k for k in missing)
    assert '16 missing model keys' in captured.err

    # decoder-on checkpoint into the legacy (decoder-off) config
    s1x = fake_model_zoo('densepose_rcnn_R_50_FPN_s1x.txt')
    with open(src, 'wb') as f:
        pickle.dump({'model': s1x}, f)
    with pytest.raises(SystemExit):
        tool.main([str(src), str(dst), '--config', LEGACY])
    out = capsys.readouterr().out
    assert out.count('  unexpected in model: roi_head.densepose_roi_extractor.decoder.') == 16
    assert 'shape mismatch: roi_head.densepose_predictor.coarse_segm_lowres.weight' in out


def test_unknown_tensor_refused_unless_allow_partial(fake_d2, tmp_path, capsys):
    d2_state = fake_d2  # the tiny model's tensors under detectron2 names
    del d2_state['roi_heads.mask_head.mask_fcn1.weight']
    d2_state['roi_heads.keypoint_head.score_lowres.weight'] = np.ones((64, 17, 4, 4), np.float32)
    d2_state['roi_heads.keypoint_head.extra_conv.weight'] = np.ones((2, 3), np.float32)
    d2_state['proposal_generator.anchor_generator.cell_anchors.2'] = cell_anchors(3)
    src = tmp_path / 'kpt.pkl'
    with open(src, 'wb') as f:
        pickle.dump({'model': d2_state}, f)
    dst = tmp_path / 'kpt.pth'
    with pytest.raises(SystemExit) as exc:
        tool.main([str(src), str(dst), '--config', CONFIG])
    assert exc.value.code == 1 and not dst.exists()
    captured = capsys.readouterr()
    assert ('not converted: roi_heads.keypoint_head.extra_conv.weight (2, 3) '
            '(no mmdensekd counterpart)') in captured.out
    assert 'not converted: proposal_generator.anchor_generator.cell_anchors.2 (3, 4) ' \
        '(anchors differ' in captured.out
    assert '2 detectron2 tensors not converted' in captured.err
    # the tiny DensePose config has no keypoint head
    assert 'unexpected in model: roi_head.keypoint_head.deconv.weight' in captured.out

    result = tool.main([str(src), str(dst), '--config', CONFIG, '--allow-partial'])
    assert sorted(result['unconverted']) == ['proposal_generator.anchor_generator.cell_anchors.2',
                                             'roi_heads.keypoint_head.extra_conv.weight']
    saved = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    np.testing.assert_array_equal(saved['roi_head.keypoint_head.deconv.weight'].numpy(),
                                  d2_state['roi_heads.keypoint_head.score_lowres.weight'])
    assert len(saved) == len(tool.convert_state_dict(d2_state)['state_dict'])
    with pytest.raises(SystemExit):
        tool.parse_args([str(src), str(dst), '--config', CONFIG, '--strict', '--allow-partial'])


def test_decoder_norm_keys():
    keys = ['roi_heads.decoder.p3.0.weight', 'roi_heads.decoder.p3.0.norm.weight',
            'roi_heads.decoder.p3.0.norm.bias']
    assert tool.decoder_norm_name(keys) == 'gn'
    state = tool.convert_state_dict({k: np.ones(4, np.float32) for k in keys})['state_dict']
    prefix = 'roi_head.densepose_roi_extractor.decoder.scale_heads.1.0'
    assert sorted(state) == [f'{prefix}.conv.weight', f'{prefix}.gn.bias', f'{prefix}.gn.weight']
    keys += ['roi_heads.decoder.p3.0.norm.running_mean', 'roi_heads.decoder.p3.0.norm.running_var']
    state = tool.convert_state_dict({k: np.ones(4, np.float32) for k in keys})['state_dict']
    assert f'{prefix}.bn.running_var' in state and f'{prefix}.bn.num_batches_tracked' in state


# --- the tiny decoder-on DensePose R-CNN, distinct values, numpy decoder ---
def _np_decoder(feats, d2, in_strides=(4, 8, 16, 32)):
    """detectron2's decoder maths on detectron2-named numpy weights: per level
    max(1, log2(stride / 4)) x (conv3x3 + ReLU [+ x2 bilinear]), sum, 1x1."""

    def conv(x, w, b):
        k = w.shape[-1]
        xp = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)))
        h, wd = x.shape[1:]
        out = sum(np.einsum('oc,chw->ohw', w[:, :, dy, dx], xp[:, dy:dy + h, dx:dx + wd])
                  for dy in range(k) for dx in range(k))
        return out + b[:, None, None]

    def up2(x):
        mats = []
        for n in x.shape[1:]:
            src = np.maximum((np.arange(2 * n) + 0.5) / 2 - 0.5, 0)
            i0 = np.minimum(np.floor(src).astype(int), n - 1)
            i1 = np.minimum(i0 + 1, n - 1)
            m = np.zeros((2 * n, n))
            np.add.at(m, (np.arange(2 * n), i0), 1 - (src - i0))
            np.add.at(m, (np.arange(2 * n), i1), src - i0)
            mats.append(m)
        return np.einsum('yh,chw,xw->cyx', mats[0], x, mats[1])

    fused = 0
    for feat, stride in zip(feats, in_strides):
        stage = int(np.log2(stride))
        x = feat
        for k in range(max(1, stage - 2)):
            p = f'roi_heads.decoder.p{stage}.{2 * k}'
            x = np.maximum(conv(x, d2[f'{p}.weight'].astype(np.float64),
                                d2[f'{p}.bias'].astype(np.float64)), 0)
            if stride != 4:
                x = up2(x)
        fused = fused + x
    return conv(fused, d2['roi_heads.decoder.predictor.weight'].astype(np.float64),
                d2['roi_heads.decoder.predictor.bias'].astype(np.float64))


@pytest.fixture(scope='module')
def decoder_config(tmp_path_factory):
    cfg = Config.fromfile(CONFIG)
    cfg.model.roi_head.densepose_roi_extractor = copy.deepcopy(TINY_DECODER_EXTRACTOR)
    path = tmp_path_factory.mktemp('cfg') / 'tiny_decoder.py'
    cfg.dump(str(path))
    return str(path), cfg


def _distinct_d2_state(model, seed=0):
    """detectron2-named dict of the model's tensors, all values distinct."""
    shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()
              if not k.endswith('num_batches_tracked')]
    total = sum(int(np.prod(s)) for _, s in shapes)
    values = np.random.default_rng(seed).permutation(total) / total - 0.5
    state, start = collections.OrderedDict(), 0
    for key, shape in shapes:
        n = int(np.prod(shape))
        array = values[start:start + n].reshape(shape).astype(np.float32)
        start += n
        state[_d2_name(key)] = array + 2 if key.endswith('running_var') else array
    return state


def test_tiny_decoder_model_round_trip_and_decoder_maths(decoder_config, tmp_path):
    path, cfg = decoder_config
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model).eval()
    d2_state = _distinct_d2_state(model)
    flat = np.concatenate([v.ravel() for v in d2_state.values()])
    assert len(np.unique(flat)) == flat.size  # every value distinct
    src = tmp_path / 'tiny.pkl'
    with open(src, 'wb') as f:
        pickle.dump({'model': d2_state}, f)
    dst = tmp_path / 'tiny.pth'
    result = tool.main([str(src), str(dst), '--config', path])
    assert result['unconverted'] == []
    assert result['check'] == dict(missing=[], unexpected=[], mismatched=[])
    assert_round_trip(d2_state, result)
    saved = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    model.load_state_dict(saved, strict=True)
    for key, value in model.state_dict().items():
        if not key.endswith('num_batches_tracked'):
            np.testing.assert_array_equal(value.numpy(), d2_state[_d2_name(key)], err_msg=key)

    # the loaded model's decoder computes detectron2's decoder maths
    gen = torch.Generator().manual_seed(3)
    feats = tuple(torch.randn(1, 64, 16 // 2**i, 24 // 2**i, generator=gen) for i in range(5))
    extractor = model.roi_head.densepose_roi_extractor
    with torch.no_grad():
        fused = extractor.decoder(feats[:4])[0].double().numpy()
    ref = _np_decoder([f[0].double().numpy() for f in feats[:4]], d2_state)
    assert fused.shape == (64, 16, 24)
    np.testing.assert_allclose(fused, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())

    # and the DensePose branch pools every RoI from that one stride-4 map
    rois = torch.tensor([[0, 4., 4., 40., 60.], [0, 60., 10., 90., 30.]])
    with torch.no_grad():
        dp = model.roi_head.forward_branches(feats, rois, ['densepose_feats'])['densepose_feats']
        head_in = RoIAlign(14, spatial_scale=0.25, sampling_ratio=2, aligned=False)(
            extractor.decoder(feats[:4]), rois)
        ref = model.roi_head.densepose_head(head_in)
    assert dp.shape == (2, 64, 14, 14)
    torch.testing.assert_close(dp, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_tiny_decoder_identity_path_after_conversion(decoder_config, tmp_path):
    """Zero detectron2 decoder weights except identity taps on channel 0 of
    p4.0, p4.2 and the predictor: a one-hot at P4 reaches the fused map
    spread by two x2 bilinear upsamplings around 4 i + 1.5 (hand-computed)."""
    path, cfg = decoder_config
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model).eval()
    d2_state = _distinct_d2_state(model, seed=1)
    for key in d2_state:
        if key.startswith('roi_heads.decoder.'):
            d2_state[key] = np.zeros_like(d2_state[key])
    for key in ('roi_heads.decoder.p4.0.weight', 'roi_heads.decoder.p4.2.weight'):
        d2_state[key][0, 0, 1, 1] = 1.0
    d2_state['roi_heads.decoder.predictor.weight'][0, 0, 0, 0] = 1.0
    model.load_state_dict(tool.convert_state_dict(d2_state)['state_dict'], strict=True)
    feats = [torch.zeros(1, 64, 32 // 2**i, 32 // 2**i) for i in range(4)]
    feats[2][0, 0, 2, 5] = 1.0
    for f in (feats[0], feats[1], feats[3]):
        f.normal_()  # other levels have zero weights: no contribution
    with torch.no_grad():
        fused = model.roi_head.densepose_roi_extractor.decoder(feats)[0]
    profile = np.array([1, 3, 6, 10, 12, 12, 10, 6, 3, 1]) / 16
    expected = np.zeros((32, 32))
    expected[5:15, 17:27] = np.outer(profile, profile)
    np.testing.assert_allclose(fused[0].numpy(), expected, atol=1e-6)
    assert fused[1:].abs().max() == 0


# --- --config is required; detectron2 config names --------------------------
def test_config_is_required(fake_d2, tmp_path, capsys):
    src = tmp_path / 'model.pkl'
    with open(src, 'wb') as f:
        pickle.dump({'model': fake_d2}, f)
    dst = tmp_path / 'out.pth'
    with pytest.raises(SystemExit) as exc:
        tool.main([str(src), str(dst)])
    assert exc.value.code != 0 and not dst.exists()
    assert 'the following arguments are required: --config' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        tool.main([str(src), str(dst), '--config', 'densepose_rcnn_R_77_FPN_s1x'])
    assert exc.value.code != 0 and not dst.exists()
    assert 'neither a config file nor a detectron2' in capsys.readouterr().err


def test_detectron2_config_names_map_to_existing_configs():
    names = [n for n in tool.DETECTRON2_CONFIGS if n.startswith('densepose_rcnn_')]
    # R_50 / R_101 x (legacy, FPN / DL x 5 confidence variants) + HRNet w32 / w40 / w48
    assert len(names) == 25
    for name, path in tool.DETECTRON2_CONFIGS.items():
        assert osp.isfile(osp.join(ROOT, path)), (name, path)
    # a name with directories and .yaml resolves too
    assert tool.resolve_config('configs/densepose_rcnn_R_101_FPN_DL_WC2M_s1x.yaml') == osp.join(
        ROOT, 'configs', 'densepose_rcnn',
        'densepose-rcnn_r101-caffe_fpn-dl-wc2m_s1x_densepose-coco-d2.py')
    assert tool.resolve_config(S1X) == S1X


def test_key_lists_are_the_generators():
    """The checked-in lists are what detectron2_key_lists.py writes."""
    spec = importlib.util.spec_from_file_location(
        'detectron2_key_lists', osp.join(ROOT, 'tools', 'model_converters',
                                         'detectron2_key_lists.py'))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert sorted([*gen.VARIANTS, *gen.HRNET_VARIANTS]) == sorted(
        n for n in tool.DETECTRON2_CONFIGS if n.startswith('densepose_rcnn_'))
    for name in [*gen.VARIANTS, *gen.HRNET_VARIANTS]:
        assert list(load_key_list(f'{name}.txt').items()) == gen.variant_keys(name), name
    r101 = load_key_list('densepose_rcnn_R_101_FPN_DL_WC2M_s1x.txt')
    assert max(int(k.split('.')[3]) for k in r101 if '.res4.' in k) == 22  # 23 blocks
    assert r101['roi_heads.densepose_head.ASPP.project.0.weight'] == (256, 1280, 1, 1)
    assert r101['roi_heads.densepose_predictor.kappa_v_lowres.weight'] == (512, 25, 4, 4)
    assert r101['roi_heads.densepose_predictor.coarse_segm_confidence_lowres.bias'] == (1, )


@pytest.mark.parametrize('name', sorted(n for n in tool.DETECTRON2_CONFIGS
                                        if n.startswith('densepose_rcnn_')))
def test_every_model_zoo_variant_converts_completely(name, model_states):
    """Each detectron2 chart model (its key names and shapes) converts with
    nothing left over into its config, and fills every model key."""
    d2_state = fake_model_zoo(f'{name}.txt', seed=2)
    result = tool.convert_state_dict(d2_state)
    assert result['unconverted'] == [], name
    assert_round_trip(d2_state, result)
    state, cfg = model_states(tool.resolve_config(name))
    assert tool.compare_with_model(result['state_dict'], state) == dict(
        missing=[], unexpected=[], mismatched=[]), name
    assert tool.config_notes(cfg, has_densepose=True) == [], name
    if '_DL_' in name:
        assert result['mapping']['roi_heads.densepose_head.body_conv_fcn8.norm.bias'] == \
            'roi_head.densepose_head.body_conv_fcn8.norm.bias'
        # GroupNorms get no BatchNorm statistics
        assert not any(k.startswith('roi_head.densepose_head.') and 'running' in k
                       for k in result['state_dict'])
    if '_HRNet_' in name:
        mapping = result['mapping']
        assert result['consumed'] == []  # no pixel / anchor buffers in these checkpoints
        assert mapping['backbone.bottom_up.stage4.2.fuse_layers.3.0.2.0.weight'] == \
            'backbone.stage4.2.fuse_layers.3.0.2.0.weight'
        assert mapping['backbone.bottom_up.transition3.3.0.1.num_batches_tracked'] == \
            'backbone.transition3.3.0.1.num_batches_tracked'
        assert mapping['backbone.interp_conv.3.0.weight'] == 'neck.interp_conv.3.0.weight'
        assert mapping['backbone.reduction_pooling_conv.4.1.running_var'] == \
            'neck.reduction_pooling_conv.4.1.running_var'
        # the decoder over p1..p5 (p1 = stride 4 -> scale head 0): 1/1/2/3/4 convs
        decoder = 'roi_head.densepose_roi_extractor.decoder'
        assert mapping['roi_heads.decoder.p1.0.bias'] == f'{decoder}.scale_heads.0.0.conv.bias'
        assert mapping['roi_heads.decoder.p5.6.weight'] == \
            f'{decoder}.scale_heads.4.6.conv.weight'
        assert sum(k.startswith('roi_heads.decoder.') for k in mapping) == 2 * (11 + 1)
        assert sum(k.startswith('backbone.bottom_up.') for k in mapping) == 1830
        assert sum(k.startswith('neck.') for k in mapping.values()) == 69


def test_hrnet_checkpoint_round_trip(tmp_path, capsys, model_states, monkeypatch):
    """A detectron2-trained HRNet-W32 ``model_final.pth`` (torch tensors,
    BatchNorm counters, no pixel / anchor buffers) converts by its detectron2
    name into the w32 config with nothing left over, values unchanged; so
    does one without ``num_batches_tracked`` (counters set to 0)."""
    monkeypatch.setattr(tool, 'build_model_state', model_states)
    name = 'densepose_rcnn_HRFPN_HRNet_w32_s1x'
    d2_state = {k: torch.from_numpy(np.array(v))
                for k, v in fake_model_zoo(f'{name}.txt', seed=5).items()}
    src = tmp_path / 'model_final.pth'
    torch.save({'model': d2_state, 'iteration': 129999}, src)
    dst = tmp_path / 'hrnet_w32.pth'
    result = tool.main([str(src), str(dst), '--config', name])
    assert result['unconverted'] == [] and result['consumed'] == []
    assert result['check'] == dict(missing=[], unexpected=[], mismatched=[])
    out = capsys.readouterr().out
    assert 'converted 1961 of 1961 detectron2 tensors' in out
    assert 'pad_size_divisor=1' in out and "style='caffe'" not in out
    assert 'config note' not in out
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert saved['meta']['config'].endswith(
        'densepose-rcnn_hrnetv2p-w32_hrfpn_s1x_densepose-coco-d2.py')
    for src_key, dst_key in result['mapping'].items():
        assert torch.equal(saved['state_dict'][dst_key], d2_state[src_key]), src_key
    counter = saved['state_dict']['neck.interp_conv.2.1.num_batches_tracked']
    assert counter.dtype == torch.int64 and counter.shape == ()
    del saved

    # without BN counters, and with the buffers detectron2 saved before 2021-05
    no_counters = {k: v for k, v in d2_state.items() if not k.endswith('num_batches_tracked')}
    no_counters['pixel_mean'] = torch.tensor([103.53, 116.28, 123.675]).view(3, 1, 1)
    no_counters['pixel_std'] = torch.ones(3, 1, 1)
    no_counters.update({f'proposal_generator.anchor_generator.cell_anchors.{i}':
                        torch.from_numpy(cell_anchors(i)) for i in range(5)})
    result = tool.convert_state_dict(no_counters)
    assert result['unconverted'] == [] and len(result['consumed']) == 7
    state, _ = model_states(tool.resolve_config(name))
    assert tool.compare_with_model(result['state_dict'], state) == dict(
        missing=[], unexpected=[], mismatched=[])
    assert int(result['state_dict']['backbone.stage3.3.fuse_layers.2.0.1.1.'
                                    'num_batches_tracked']) == 0


def test_joint_teacher_from_densepose_and_keypoint_checkpoints(tmp_path, capsys, model_states,
                                                               monkeypatch):
    """detectron2's s1x DensePose R-CNN + the keypoint head of its Keypoint
    R-CNN load into the joint d2 config with nothing missing or left over
    (and into the decoder-on joint s1x configs)."""
    monkeypatch.setattr(tool, 'build_model_state', model_states)
    dp = fake_model_zoo('densepose_rcnn_R_50_FPN_s1x.txt', seed=3)
    kpt = fake_model_zoo('keypoint_rcnn_R_50_FPN_1x.txt', seed=4)
    src, kpt_src = tmp_path / 'dp.pkl', tmp_path / 'kpt.pkl'
    for path, state in ((src, dp), (kpt_src, kpt)):
        with open(path, 'wb') as f:
            pickle.dump({'model': state}, f)
    dst = tmp_path / 'joint.pth'
    joint = osp.join(CONFIGS, 'keypoint_rcnn',
                     'densepose-keypoint-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py')
    result = tool.main([str(src), str(dst), '--keypoint-src', str(kpt_src), '--config', joint])
    assert result['unconverted'] == []
    assert result['check'] == dict(missing=[], unexpected=[], mismatched=[])
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    sd = saved['state_dict']
    np.testing.assert_array_equal(sd['roi_head.keypoint_head.deconv.weight'].numpy(),
                                  kpt['roi_heads.keypoint_head.score_lowres.weight'])
    np.testing.assert_array_equal(sd['backbone.conv1.weight'].numpy(),
                                  dp['backbone.bottom_up.stem.conv1.weight'])
    assert saved['meta']['converted_from'] == 'dp.pkl + kpt.pkl'
    unused = sum(not k.startswith('roi_heads.keypoint_head.') for k in kpt)
    assert f'its other {unused} tensors (backbone, RPN, box head) are not used' in \
        capsys.readouterr().out
    for name in ('densepose-keypoint-rcnn_r50_fpn_s1x_densepose-coco.py',
                 'densepose-keypoint-rcnn_r50_fpn_refine-sum_s1x_densepose-coco.py'):
        state, _ = model_states(osp.join(CONFIGS, 'keypoint_rcnn', name))
        check = tool.compare_with_model(sd, state)
        assert check['missing'] == [k for k in state if '.refine_head.' in k], name
        assert check['unexpected'] == [] and check['mismatched'] == [], name
    with pytest.raises(ValueError, match='no roi_heads.keypoint_head'):
        tool.merge_keypoint_head(dp, dp, 'dp.pkl')
