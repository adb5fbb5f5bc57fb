# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/analysis/benchmark_inference.py (variants, forced detections, stage
breakdown, CSI student) and tools/analysis/benchmark_roi_align.py."""
import os.path as osp

import pytest
from mmengine.config import Config


def test_variants_stages_and_csi(load_tool, tiny_config, capsys):
    tool = load_tool('analysis/benchmark_inference.py')
    result = tool.main([tiny_config, '--shape', '96', '128', '--num-images', '1', '--warmup',
                        '0', '--device', 'cpu', '--num-dets', '3', '--dtype', 'fp32', 'bf16',
                        '--baseline', '--check-agreement', '--csi', 'mmfi'])
    out = capsys.readouterr().out
    names = ['baseline fp32', 'fp32', 'bf16']
    assert list(result['variants']) == names
    assert result['variants']['baseline fp32']['ratio'] == 1.0
    assert result['median_ms'] == result['variants']['baseline fp32']['median_ms']
    # exactly the forced number of detections in every variant
    assert result['num_dets'] == {n: 3 for n in names}
    for name in names:
        stages = result['stages'][name]
        for stage in ('backbone', 'neck', 'rpn_head', 'box_head', 'densepose_head',
                      'predictor', 'chart_decoding', 'roi_head'):
            assert stages[stage] > 0, (name, stage)
        assert stages['roi_head'] >= stages['chart_decoding']
    agg = result['agreement']['fp32']  # BN folding + fast RoIAlign change nothing
    assert agg['matched'] == 3 and agg['max_box_dev'] < 1e-2
    assert set(result['csi_mmfi']) == set(names)
    for row in ('median latency (ms/img)', 'images/s (median)', 'synthetic 96x128',
                'random init', 'forced 3', 'ratio to baseline fp32', 'chart_decoding',
                'CSI mmfi 3x114x10 -> 480x640', 'agreement with baseline fp32'):
        assert row in out, row


def test_config_helpers(load_tool, repo_root):
    tool = load_tool('analysis/benchmark_inference.py')
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'densepose_rcnn',
                                   'densepose-rcnn_r50_fpn_s1x_densepose-coco.py'))
    model = tool.detector_cfg(cfg)
    tool.force_num_dets(model, 20)
    rcnn = model['test_cfg']['rcnn']
    assert rcnn['score_thr'] == 0 and rcnn['max_per_img'] == 20
    assert rcnn['nms']['iou_threshold'] == 1.0
    assert model['test_cfg']['rpn']['max_per_img'] >= 20
    path = model['backbone']['init_cfg']['checkpoint']
    if not osp.isfile(path):
        assert path in tool.drop_missing_pretrained(model)
        assert model['backbone']['init_cfg'] is None
    assert tool.drop_missing_pretrained(model) is None
    # a distiller config benchmarks its student with an image preprocessor
    distill = Config.fromfile(osp.join(
        repo_root, 'configs', 'distill',
        'kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py'))
    student = tool.detector_cfg(distill)
    assert student['type'] == 'DensePoseRCNN'
    assert student['data_preprocessor']['type'] == 'DetDataPreprocessor'


def test_r50_random_init_runs(load_tool, repo_root, capsys):
    tool = load_tool('analysis/benchmark_inference.py')
    config = osp.join(repo_root, 'configs', 'densepose_rcnn',
                      'densepose-rcnn_r50_fpn_s1x_densepose-coco.py')
    result = tool.main([config, '--shape', '64', '96', '--num-images', '1', '--warmup', '0',
                        '--device', 'cpu', '--num-dets', '1', '--no-profile', '--cfg-options',
                        'model.test_cfg.rpn.max_per_img=1', 'model.test_cfg.rpn.nms_pre=50'])
    assert result['num_dets'] == {'fp32': 1}
    assert 'random init' in capsys.readouterr().out


def test_bad_arguments(load_tool, tiny_config):
    tool = load_tool('analysis/benchmark_inference.py')
    for bad in (['--num-dets', '0'], ['--threads', '0'], ['--dtype', 'int8']):
        with pytest.raises(SystemExit):
            tool.parse_args([tiny_config, *bad])


def test_benchmark_roi_align(load_tool, capsys):
    tool = load_tool('analysis/benchmark_roi_align.py')
    res = tool.main(['--shape', '64', '96', '--channels', '4', '--repeat', '1', '--workloads',
                     'densepose 20 RoIs 28x28 s2 aligned', 'box head 1000 RoIs 7x7 adaptive'])
    assert set(res) == {'densepose 20 RoIs 28x28 s2 aligned', 'box head 1000 RoIs 7x7 adaptive'}
    for r in res.values():
        assert r['max_abs_diff'] < 1e-5 and r['mmcv_ms'] > 0 and r['fast_ms'] > 0
    assert 'speedup' in capsys.readouterr().out


def test_test_tool_inference_dtype(load_tool, tiny_config, tmp_path):
    tool = load_tool('test.py')
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    args = tool.parse_args([tiny_config, str(ckpt), '--inference-dtype', 'bf16'])
    assert tool.build_cfg(args).model.inference_dtype == 'bf16'
    args = tool.parse_args([tiny_config, str(ckpt)])
    assert 'inference_dtype' not in tool.build_cfg(args).model
    with pytest.raises(SystemExit):
        tool.parse_args([tiny_config, str(ckpt), '--inference-dtype', 'int8'])
