# Copyright (c) mmdensekd contributors. All rights reserved.
"""demo/wifi_demo.py: a tiny random-init CSI student over the real Intel 5300 capture."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from wifi_demo_testing import FEW, INTEL, ROOT, WIFI_CFG, load_script

IMG_CFG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                   'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')


def test_demo_on_intel_capture_writes_frames(demo, checkpoint, tmp_path):
    out = tmp_path / 'vis'
    result = demo.main([WIFI_CFG, checkpoint, '--csi', INTEL, '--fps', '1', '--out', str(out),
                        '--max-frames', '3'] + FEW)
    files = sorted(os.listdir(out))
    assert result['frames'] == 3 and len(files) == 3 and result['fps'] > 0
    assert files[0] == 'frame_000001.jpg'
    drawn = cv2.imread(str(out / files[0]))
    assert drawn.shape == (192, 288, 3)  # the MTN output size of the tiny config
    # boxes / parts / keypoints drawn on the blank canvas (above the frame label)
    assert (drawn[:-24].max(axis=2) > 40).mean() > 0.002


def test_demo_beside_camera_frames_to_video(demo, checkpoint, tmp_path):
    frames = tmp_path / 'frames'
    frames.mkdir()
    for k in range(3):
        img = np.full((60, 80, 3), 60 * k, np.uint8)
        cv2.imwrite(str(frames / f'{k:03d}.png'), img)
    out = str(tmp_path / 'wifi.mp4')
    result = demo.main([WIFI_CFG, checkpoint, '--csi', INTEL, '--fps', '1', '--video',
                        str(frames), '--out', out, '--max-frames', '3'] + FEW)
    assert result['frames'] == 3
    video = cv2.VideoCapture(out)
    count, first = 0, None
    while True:
        ok, frame = video.read()
        if not ok:
            break
        first = frame if first is None else first
        count += 1
    video.release()
    assert count == 3
    assert first.shape[:2] == (192, 192 * 80 // 60 + 288)  # camera (resized) | predictions
    # a video file as the camera source, drawings to a folder
    src = str(tmp_path / 'camera.mp4')
    writer = cv2.VideoWriter(src, cv2.VideoWriter_fourcc(*'mp4v'), 1, (80, 60))
    for k in range(2):
        writer.write(np.full((60, 80, 3), (0, 200, 0), np.uint8))
    writer.release()
    demo.main([WIFI_CFG, checkpoint, '--csi', INTEL, '--fps', '1', '--video', src, '--out',
               str(tmp_path / 'vis'), '--max-frames', '2'] + FEW)
    drawn = cv2.imread(str(tmp_path / 'vis' / 'frame_000002.jpg'))
    assert drawn.shape == (192, 256 + 288, 3)
    assert drawn[96, 128, 1] > 150 and drawn[96, 128, 2] < 60  # the green camera frame


def test_demo_on_converted_frame_dir(demo, checkpoint, tmp_path):
    tool = load_script(osp.join(ROOT, 'tools', 'dataset_converters', 'csi_capture_to_frames.py'),
                 'csi_capture_to_frames')
    tool.main([INTEL, '--out', str(tmp_path / 'csi'), '--fps', '1', '--layout', 'mmfi'])
    result = demo.main([WIFI_CFG, checkpoint, '--csi', str(tmp_path / 'csi'), '--out',
                        str(tmp_path / 'vis'), '--max-frames', '2'] + FEW)
    assert result['frames'] == 2 and len(os.listdir(tmp_path / 'vis')) == 2


def test_demo_bad_input(demo, checkpoint, tmp_path):
    with pytest.raises(ValueError, match='has no CSI student'):
        demo.main([IMG_CFG, checkpoint, '--csi', INTEL, '--out', str(tmp_path)])
    with pytest.raises(FileNotFoundError, match='nothing_here'):
        demo.main([WIFI_CFG, checkpoint, '--csi', str(tmp_path / 'nothing_here'), '--out',
                   str(tmp_path)])
    with pytest.raises(ValueError, match=r"--layout person-in-wifi gives \(150, 3, 3\) but the "
                       r'MTN takes \(3, 114, 10\)'):
        demo.main([WIFI_CFG, checkpoint, '--csi', INTEL, '--layout', 'person-in-wifi',
                   '--out', str(tmp_path)])
