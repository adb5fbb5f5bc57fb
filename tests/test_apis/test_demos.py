# Copyright (c) mmdensekd contributors. All rights reserved.
"""Smoke runs of demo/image_demo.py and demo/video_demo.py on the tiny model."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmdensekd.apis import init_model

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                  'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
DEMO_IMG = osp.join(ROOT, 'demo', 'resources', 'demo_im.jpg')


def _load(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, 'demo', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_random.pth'
    torch.save(init_model(CONFIG).state_dict(), path)
    return str(path)


def test_image_demo_writes_drawing(checkpoint, tmp_path):
    demo = _load('image_demo')
    out_dir = tmp_path / 'vis'
    written = demo.main([CONFIG, checkpoint, '--img', DEMO_IMG, '--out-dir', str(out_dir),
                         '--score-thr', '0.0', '--vis-mode', 'texture', '--cfg-options',
                         'model.test_cfg.rcnn.max_per_img=4'])
    assert written == [str(out_dir / 'demo_im.jpg')]
    drawn = cv2.imread(written[0])
    original = cv2.imread(DEMO_IMG)
    assert drawn.shape == original.shape
    # boxes, charts and texture changed a visible part of the image
    changed = np.abs(drawn.astype(np.int16) - original.astype(np.int16)).max(axis=2) > 40
    assert changed.mean() > 0.001


def test_image_demo_missing_image(checkpoint, tmp_path):
    demo = _load('image_demo')
    with pytest.raises(FileNotFoundError, match='nothing_here'):
        demo.main([CONFIG, checkpoint, '--img', str(tmp_path / 'nothing_here'), '--out-dir',
                   str(tmp_path)])


def test_video_demo_writes_frames(checkpoint, tmp_path):
    demo = _load('video_demo')
    frame = cv2.resize(cv2.imread(DEMO_IMG), (280, 150))
    src = str(tmp_path / 'in.mp4')
    writer = cv2.VideoWriter(src, cv2.VideoWriter_fourcc(*'mp4v'), 5, (280, 150))
    for _ in range(3):
        writer.write(frame)
    writer.release()
    out = str(tmp_path / 'out' / 'vis.mp4')
    count = demo.main([CONFIG, checkpoint, '--video', src, '--out', out, '--score-thr', '0.0',
                       '--vis-mode', 'u', '--max-frames', '2', '--cfg-options',
                       'model.test_cfg.rcnn.max_per_img=2'])
    assert count == 2
    capture = cv2.VideoCapture(out)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape == (150, 280, 3)
