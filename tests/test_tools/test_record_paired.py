# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/misc/record_paired.py: a short video + a replayed Intel 5300 capture
-> a recording that the converter, the pseudo-label tool and one training
step of the my-room config accept."""
import copy
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmdensekd.datasets.csi_capture import read_csi_capture

INTEL = 'tests/data/wifi_captures/sample_0x1_ap.dat'
TEACHER = 'configs/distill/teachers/densepose-kprcnn_r18-tiny_fpn_1xb2-1600i_synthetic-wifi.py'
MY_ROOM = 'configs/distill/kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_my-room.py'


def test_fit_clock(load_tool):
    tool = load_tool('misc/record_paired.py')
    host = np.arange(50) * 0.01 + 100.0
    capture = 3.0 * (host - 100.0) + 7.0 + np.tile([0.0, 0.002], 25)
    fit = tool.fit_clock(host, capture)
    assert fit['slope'] == pytest.approx(3.0, abs=1e-3)
    assert fit['offset'] == pytest.approx(7.001, abs=1e-3)
    with pytest.raises(ValueError, match='1 CSI packets recorded'):
        tool.fit_clock(host[:1], capture[:1])


def test_record_convert_label_train(load_tool, repo_root, tmp_path, monkeypatch):
    monkeypatch.chdir(repo_root)
    video = str(tmp_path / 'camera.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 10, (128, 96))
    rng = np.random.RandomState(0)
    for k in range(8):
        frame = np.full((96, 128, 3), 40, np.uint8)
        cv2.rectangle(frame, (30 + k, 20), (60 + k, 90), (200, 180, 160), -1)
        writer.write(np.clip(frame + rng.randint(0, 20, frame.shape), 0, 255).astype(np.uint8))
    writer.release()
    out = str(tmp_path / 'room')
    rec = load_tool('misc/record_paired.py').main(
        ['--camera', video, '--source', f'replay:{INTEL}?speed=20', '--out', out])
    assert rec['num_frames'] == 8 and rec['csi_format'] == 'intel5300'
    assert rec['num_packets'] > 50 and rec['frames_inside_capture'] >= 6
    assert rec['clock']['slope'] == pytest.approx(20, rel=0.1)  # the replay's speed-up
    # the raw capture holds the replayed packets unchanged
    recorded, ref = read_csi_capture(rec['csi_file']), read_csi_capture(INTEL)
    np.testing.assert_array_equal(recorded.csi, ref.csi[:len(recorded)])
    times = np.loadtxt(osp.join(out, 'frame_timestamps.txt'))
    assert len(times) == 8 and np.all(np.diff(times) > 1.5)  # 0.1 s x 20 on the NIC clock

    load_tool('dataset_converters/csi_capture_to_frames.py').main([
        rec['csi_file'], '--out', osp.join(out, 'paired'), '--frame-timestamps',
        osp.join(out, 'frame_timestamps.txt'), '--absolute-times', '--frames',
        osp.join(out, 'frames'), '--layout', 'person-in-wifi'])
    skeleton = osp.join(out, 'paired', 'annotations', 'paired_skeleton.json')
    with open(skeleton) as f:
        images = json.load(f)['images']
    assert len(images) >= 6 and images[0]['csi_file'].startswith('csi/')

    # a random-init teacher of the config's architecture labels the frames
    from mmdensekd.apis import init_model
    torch.manual_seed(0)
    teacher = init_model(TEACHER)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    pseudo = osp.join(out, 'paired', 'annotations', 'pseudo_train.json')
    load_tool('misc/generate_pseudo_labels.py').main([
        TEACHER, ckpt, '--img-dir', osp.join(out, 'frames'), '--ann-file', skeleton, '--out',
        pseudo, '--score-thr', '0.0'])
    with open(pseudo) as f:
        labels = json.load(f)
    assert labels['annotations'] and labels['images'][0]['csi_file']

    # one training step of the my-room config on the recording
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DATASETS, MODELS, DefaultScope

    from mmdensekd.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(MY_ROOM)
    cfg.model.update(teacher_ckpt=None, allow_uninitialized_teacher=True)
    student = cfg.model.student
    if student.get('type') == 'CSIDetector':  # the converter's CSI statistics
        student.data_preprocessor.csi_stats_file = osp.join(out, 'paired', 'index.json')
        student.detector.pop('init_cfg', None)
    else:
        student.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.train()
        ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
        ds_cfg.update(data_root=out + '/')
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) > 0
        data = pseudo_collate([dataset[0], dataset[len(dataset) - 1]])
        assert data['inputs']['csi'][0].shape == (2, 150, 3, 3)
        log = model.train_step(data, build_optim_wrapper(model, cfg.optim_wrapper))
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values()), log
    assert {'student.loss_cls', 'distill.loss_transfer'} <= set(log), sorted(log)
