# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/analysis/benchmark_live.py on a saved tiny WiFi student and its
config, as a user runs it: stage CPU times, live-vs-reference agreement and
an end-to-end run of the live demo (figures printed, never asserted)."""
import os.path as osp

import pytest
import torch

from mmdensekd.apis import init_model

OPTIONS = ['--cfg-options', 'model.student.detector.test_cfg.rcnn.max_per_img=3',
           'model.student.data_preprocessor.csi_stats_file=None',
           'model.student.data_preprocessor.csi_mean=[0.0,0.0]',
           'model.student.data_preprocessor.csi_std=[1.0,1.0]']


@pytest.fixture(scope='module')
def student(repo_root, tmp_path_factory, load_tool):
    """(config, checkpoint) of a randomly initialised tiny CSI student."""
    bench = load_tool('analysis/benchmark_live.py')
    config = osp.join(repo_root, 'configs', 'distill',
                      'kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py')
    torch.manual_seed(0)
    model = init_model(bench.live.wifi_student_config(config))
    model.init_weights()
    path = tmp_path_factory.mktemp('bench') / 'student.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    return bench, config, str(path)


def test_benchmark_live_prints_stages_agreement_and_end_to_end(student, capsys):
    bench, config, ckpt = student
    rows = bench.main([config, ckpt, '--frames', '2', '--warmup', '1', '--dtypes', 'fp32',
                       '--workers', '1', '--e2e-seconds', '3', '--score-thr', '0.0'] + OPTIONS)
    out = capsys.readouterr().out
    stages = [r for r in rows if r['part'] == 'stages']
    assert [(r['setting'], r['decoding'], r['proposals']) for r in stages] == [
        ('reference', 'exact', 0), ('live', 'fast', bench.live.DEFAULT_PROPOSALS)]
    for row in stages:
        assert row['dets'] == 3.0  # max_per_img=3 at score threshold 0
        for name in ('mtn', 'backbone', 'neck', 'rpn_head', 'bbox_head', 'other'):
            assert name in row['stages']
        assert row['model_ms'] > 0 and row['draw_ms'] > 0 and row['jpeg_ms'] > 0
        # stages do not overlap: proposals, NMS and decoding are left over
        assert row['stages']['other'] > 0
    agree = stages[1]['agreement']
    assert agree['frames'] == 2 and 0 <= agree['same_boxes'] <= 2
    (e2e, ) = [r for r in rows if r['part'] == 'end_to_end']
    assert e2e['workers'] == 1 and e2e['decoding'] == 'fast'
    assert e2e['frames'] >= 1 and e2e['fps'] > 0 and e2e['latency_ms'] > 0
    assert e2e['model_cpu_ms'] > 0 and e2e['source_cpu_ms'] > 0 and e2e['implied_fps'] > 0
    assert '[stages] fp32 live vs reference: same boxes on' in out
    assert '[end to end] fp32, 1 worker(s), offered 30 frames/s:' in out
    assert 'python demo/wifi_live_demo.py ' + config in out  # the command to rerun it
