# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/analysis/benchmark_inference.py (variants, forced detections, stage
breakdown, CSI student) and tools/analysis/benchmark_roi_align.py."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config


def test_variants_stages_and_csi(load_tool, tiny_config, capsys):
    tool = load_tool('analysis/benchmark_inference.py')
    result = tool.main([tiny_config, '--shape', '96', '128', '--num-images', '2', '--warmup',
                        '0', '--device', 'cpu', '--num-dets', '3', '--dtype', 'fp32', 'bf16',
                        '--baseline', '--check-agreement', '--csi', 'mmfi'])
    out = capsys.readouterr().out
    names = ['today fp32', 'fp32', 'today bf16', 'bf16']
    assert list(result['variants']) == names
    assert result['variants']['today fp32']['ratio'] == 1.0
    # the header shows this release's first variant
    assert result['median_ms'] == result['variants']['fp32']['median_ms']
    # each variant against today's path at its dtype, image by image
    for name in ('fp32', 'bf16'):
        stats = result['variants'][name]
        assert stats['baseline'] == f'today {name}' and stats['vs_baseline'] > 0
    assert 'vs_baseline' not in result['variants']['today bf16']
    # exactly the forced number of detections in every variant
    assert result['num_dets'] == {n: 3 for n in names}
    for name in names:
        stages = result['stages'][name]
        for stage in ('backbone', 'neck', 'rpn_head', 'rpn_proposals', 'box_roi_extractor',
                      'box_head', 'densepose_head', 'predictor', 'chart_decoding',
                      'roi_align'):
            assert stages[stage] > 0, (name, stage)
        assert stages['forward (profiled)'] >= stages['backbone'] + stages['neck']
    # bf16 pays for casts between stages
    assert result['stages']['bf16']['casts + layout copies'] > 0
    # bf16 against this release's fp32, today's bf16 against today's fp32
    agg = result['agreement']['bf16']
    assert agg['reference'] == 'fp32' and agg['matched'] >= 2 and agg['max_box_dev'] <= 1.0
    assert result['agreement']['today bf16']['reference'] == 'today fp32'
    assert set(result['csi_mmfi']) == set(names)
    assert result['csi_mmfi']['bf16']['baseline'] == 'today bf16'
    for row in ('median latency (ms/img)', 'images/s (median)', 'synthetic 96x128',
                'random init', 'forced 3', 'ratio to today fp32', 'ratio to today (paired)',
                'chart_decoding (per-box IUV)', 'roi_align (all RoIAlign calls)',
                'CSI mmfi 3x114x10 -> 480x640', 'bf16 / fp32', 'today bf16 / today fp32',
                'release a3c982d'):
        assert row in out, row


def test_today_path_variant(load_tool, repo_root):
    """Today's path (release a3c982d): float32 weights, no folding, NCHW,
    the fast chart decoding, the RoI head's convolutions in bf16 and the
    predictor's outputs back in float32, and this release's models left as
    they are; in fp32 it gives this release's boxes."""
    from mmdensekd.apis import init_model
    tool = load_tool('analysis/benchmark_inference.py')
    torch.manual_seed(0)
    model = init_model(osp.join(repo_root, 'configs', 'densepose_rcnn',
                                'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py'))
    model.init_weights()
    tool.force_num_dets(model, 2)
    today = tool.build_today_variant(model, 'bf16')
    m = today['model']
    assert today['dtype'] is torch.bfloat16 and today['flush_denormal'] is False
    assert m.roi_head.densepose_predictor.decoding == 'fast'
    assert model.roi_head.densepose_predictor.decoding == 'detectron2'
    assert any(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())
    assert not m.stage_autocast.handles and m.autocast_dtype is None
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=dict(img_shape=(64, 96), ori_shape=(64, 96),
                                         scale_factor=(1.0, 1.0), batch_input_shape=(64, 96)))
    x = torch.randn(1, 3, 64, 96)
    seen = {}
    conv = next(c for c in m.roi_head.densepose_head.modules() if isinstance(c, torch.nn.Conv2d))
    hooks = [conv.register_forward_hook(lambda mod, a, o: seen.update(conv=o.dtype)),
             m.roi_head.densepose_predictor.register_forward_hook(
                 lambda mod, a, o: seen.update(predictor=o.fine_segm.dtype))]
    with torch.no_grad():
        out = tool.today_predict(m, x, [sample.clone()], torch.bfloat16)
    for h in hooks:
        h.remove()
    assert seen == dict(conv=torch.bfloat16, predictor=torch.float32)
    assert len(out[0].pred_instances) == 2
    assert out[0].pred_instances.densepose.uv[0].max() <= 1.0  # the fast decoding clamps
    assert all(p.dtype == torch.float32 for p in m.parameters())
    fp32 = tool.build_today_variant(model, 'fp32')
    with torch.no_grad():
        ref = tool.today_predict(fp32['model'], x, [sample.clone()], None)
        new = model.predict(x, [sample.clone()])
    torch.testing.assert_close(ref[0].pred_instances.bboxes, new[0].pred_instances.bboxes)


def test_force_num_dets_on_built_models(load_tool, repo_root):
    from mmdensekd.apis import init_model, student_config
    tool = load_tool('analysis/benchmark_inference.py')
    model = init_model(osp.join(repo_root, 'configs', 'densepose_rcnn',
                                'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py'))
    assert tool.force_num_dets(model, 20) == 1
    rcnn = model.roi_head.test_cfg
    assert rcnn['score_thr'] == 0 and rcnn['max_per_img'] == 20
    assert rcnn['nms']['iou_threshold'] == 1.0
    assert model.rpn_head.test_cfg['max_per_img'] >= 20
    # a distillation config: its student, a CSIDetector, whose detector is changed
    student = init_model(student_config(osp.join(repo_root, 'configs', 'distill', WIFI_CFG)))
    assert type(student).__name__ == 'CSIDetector'
    assert tool.force_num_dets(student, 2) == 1
    assert student.detector.roi_head.test_cfg['max_per_img'] == 2


WIFI_CFG = 'kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py'


def test_tiny_csi_student_with_checkpoint(load_tool, repo_root, tmp_path, capsys):
    """The distillation config of the tiny WiFi student and a distillation
    checkpoint (student weights under ``student.``): a rate at each dtype."""
    import torch

    from mmdensekd.apis import init_model, student_config
    config = osp.join(repo_root, 'configs', 'distill', WIFI_CFG)
    torch.manual_seed(0)
    student = init_model(student_config(config))
    student.init_weights()
    ckpt = tmp_path / 'kd_tiny.pth'
    torch.save(dict(state_dict={f'student.{k}': v for k, v in student.state_dict().items()},
                    meta=dict(dataset_meta=dict(classes=('person', )))), ckpt)
    tool = load_tool('analysis/benchmark_inference.py')
    result = tool.main([config, str(ckpt), '--num-images', '1', '--warmup', '0', '--device',
                        'cpu', '--num-dets', '2', '--dtype', 'fp32', 'bf16', '--no-profile'])
    out = capsys.readouterr().out
    assert set(result['variants']) == {'fp32', 'bf16'}
    for stats in result['variants'].values():
        assert stats['images_per_s'] > 0
    assert result['num_dets'] == {'fp32': 2, 'bf16': 2}
    for row in ('CSIDetector', 'kd_tiny.pth', 'random CSI 3x114x10', 'CSI student variant',
                'images/s'):
        assert row in out, row
    # auto keeps the faster dtype and says so with both times
    result = tool.main([config, str(ckpt), '--num-images', '1', '--warmup', '0', '--device',
                        'cpu', '--num-dets', '2', '--dtype', 'auto', '--no-profile'])
    auto = result['auto']
    assert auto['choice'] == min(auto['ms'], key=auto['ms'].get)
    assert list(result['variants']) == [auto['choice']]
    assert '--dtype auto:' in capsys.readouterr().out


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
    assert args.inference_dtype == 'bf16'
    # the dtype reaches the detector after the build (configs stay as written)
    assert 'inference_dtype' not in tool.build_cfg(args).model
    from mmdensekd.registry import MODELS
    from mmdensekd.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(Config.fromfile(tiny_config).model)
    assert tool.set_inference_dtype(model, 'bf16') == 1
    assert model.autocast_dtype == torch.bfloat16
    with pytest.raises(SystemExit, match='no two-stage detector'):
        tool.set_inference_dtype(torch.nn.Linear(2, 2), 'bf16')
    with pytest.raises(SystemExit):
        tool.parse_args([tiny_config, str(ckpt), '--inference-dtype', 'int8'])
