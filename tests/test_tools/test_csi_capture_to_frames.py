# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/dataset_converters/csi_capture_to_frames.py on the real Intel 5300 capture."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import scipy.io
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdensekd.datasets import PairedWiFiDensePoseDataset
from mmdensekd.datasets.csi_capture import read_csi_capture
from mmdensekd.models.mtn import ModalityTranslationNetwork

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(ROOT, 'tests', 'data', 'wifi_captures')
INTEL = osp.join(DATA, 'sample_0x1_ap.dat')
ESP32 = osp.join(DATA, 'example_csi.csv')
PIW_CFG = osp.join(ROOT, 'configs', 'distill',
                   'kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py')
TOOL = 'dataset_converters/csi_capture_to_frames.py'


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')  # as our configs (default_scope='mmdet')


@pytest.fixture(scope='module')
def converted(tmp_path_factory, load_tool):
    out = tmp_path_factory.mktemp('piw')
    index = load_tool(TOOL).main([INTEL, '--out', str(out), '--fps', '2'])
    return str(out), index


def test_index_and_files(converted):
    out, index = converted
    with open(osp.join(out, 'index.json')) as f:
        assert json.load(f) == json.loads(json.dumps(index))
    stats = index['stats']
    assert index['format'] == 'intel5300' and index['layout']['shape'] == [150, 3, 3]
    assert index['amplitude'] == 'linear'  # Person-in-WiFi: |h| as WiSPPN
    assert stats['num_packets'] == 540 and stats['num_frames'] == 119
    assert stats['num_written'] == len(index['frames']) == 114
    assert stats['num_skipped'] == len(index['skipped_frames']) == 5
    assert stats['num_filled_packets'] == sum(e['num_filled'] for e in index['frames']) > 0
    assert [e['frame'] for e in index['frames']] == sorted(
        set(range(1, 120)) - set(index['skipped_frames']))
    # the real packets of a frame are stored unchanged (amplitude), filled ones flagged
    capture = read_csi_capture(INTEL)
    entry = index['frames'][10]
    mat = scipy.io.loadmat(osp.join(out, entry['file']))
    assert mat['CSIamp'].shape == mat['CSIphase'].shape == (150, 3, 3)
    times, valid = mat['packet_times'].ravel(), mat['packet_valid'].ravel().astype(bool)
    assert valid.sum() == 5 - entry['num_filled']
    amp = mat['CSIamp'].reshape(5, 30, 3, 3)
    for p in np.nonzero(valid)[0]:
        i = int(np.argmin(np.abs(capture.timestamps - times[p])))
        np.testing.assert_allclose(amp[p, :, :2, :], np.abs(capture.csi[i]).transpose(0, 2, 1),
                                   rtol=1e-5)
    assert abs(mat['frame_time'].item() - entry['time']) < 1e-9


def test_frames_load_through_pipeline_and_mtn(converted):
    out, index = converted
    pipeline = Compose([
        dict(type='LoadCSIFromFile', expected_shape=(150, 3, 3)),
        dict(type='CSIPhaseSanitize', view_shape=(5, 30, 3, 3), subcarrier_axis=1,
             packet_axis=0),
        dict(type='PackCSI'),
    ])
    batch = np.stack([pipeline(dict(csi_path=osp.join(out, e['file'])))['csi']
                      for e in index['frames'][:2]])
    assert batch.shape == (2, 2, 150, 3, 3) and np.isfinite(batch).all()
    # the MTN of the Person-in-WiFi-layout CSI student config
    mtn_cfg = Config.fromfile(PIW_CFG).model.student.mtn.to_dict()
    assert mtn_cfg.pop('type') == 'ModalityTranslationNetwork'
    assert tuple(mtn_cfg['amp_shape']) == (150, 3, 3)
    torch.manual_seed(0)
    mtn = ModalityTranslationNetwork(**mtn_cfg).eval()
    with torch.no_grad():
        img = mtn(torch.from_numpy(batch))
    assert tuple(img.shape) == (2, 3) + tuple(mtn_cfg['out_size'])
    assert torch.isfinite(img).all() and not torch.equal(img[0], img[1])


def test_paired_skeleton(tmp_path, load_tool):
    frames = tmp_path / 'frames'
    frames.mkdir()
    rng = np.random.default_rng(0)
    for k in range(9):
        cv2.imwrite(str(frames / f'{k:04d}.png'), rng.integers(0, 255, (24, 40, 3), np.uint8))
    out = tmp_path / 'out'
    times = tmp_path / 'times.txt'
    # 9 frames every 8 s from 0.5 s: the last one (64.5 s) is after the 59.6 s capture
    times.write_text('\n'.join(str(0.5 + 8 * k) for k in range(9)))
    index = load_tool(TOOL).main([INTEL, '--out', str(out), '--frame-timestamps', str(times),
                                  '--window', '1.0', '--layout', 'mmfi', '--frames',
                                  str(frames)])
    assert index['layout']['shape'] == [3, 114, 10] and index['amplitude'] == 'db'
    assert index['skipped_frames'] == [9]
    with open(index['skeleton']) as f:
        skeleton = json.load(f)
    assert skeleton['annotations'] == [] and skeleton['categories'][0]['name'] == 'person'
    assert [im['id'] for im in skeleton['images']] == list(range(1, 9))
    first = skeleton['images'][0]
    assert first['file_name'] == '0000.png' and first['csi_file'] == 'csi/frame_000001.mat'
    assert (first['height'], first['width']) == (24, 40)
    assert osp.isfile(osp.join(out, first['csi_file']))
    dataset = PairedWiFiDensePoseDataset(
        ann_file=index['skeleton'], data_prefix=dict(img=str(frames), csi=str(out)),
        test_mode=True, pipeline=[dict(type='LoadCSIFromFile', expected_shape=(3, 114, 10))])
    assert len(dataset) == 8
    assert dataset[0]['csi_amplitude'].shape == (3, 114, 10)
    # generate_pseudo_labels keeps the images and their csi_file
    gen = load_tool('misc/generate_pseudo_labels.py')
    listed = gen.list_images(str(frames), index['skeleton'])
    assert [im['csi_file'] for im in listed['images']] == [
        im['csi_file'] for im in skeleton['images']]


@pytest.mark.parametrize('args, error, match', [
    (['--format', 'atheros', '--fps', '2'], ValueError, r'sample_0x1_ap\.dat is not an atheros'),
    (['--fps', '1', '--layout', 'mmfi', '--subcarriers', 'exact'], ValueError,
     r"30 subcarriers cannot map to the layout's 114"),
    (['--fps', '1', '--layout', 'r,s,p:10,200,1,3'], ValueError,
     r"30 subcarriers cannot map to the layout's 200"),
    (['--fps', '0.001', '--packets-per-frame', '600'], ValueError,
     r'540 packets, fewer than one window of 600'),
])
def test_bad_input(tmp_path, load_tool, args, error, match):
    with pytest.raises(error, match=match):
        load_tool(TOOL).main([INTEL, '--out', str(tmp_path)] + args)


def test_bad_timestamps_and_short_capture(tmp_path, load_tool):
    tool = load_tool(TOOL)
    back = tmp_path / 'back.txt'
    back.write_text('1.0\n2.0\n1.5\n')
    with pytest.raises(ValueError, match=r'back\.txt go backwards at line 3'):
        tool.main([INTEL, '--out', str(tmp_path), '--frame-timestamps', str(back)])
    with pytest.raises(ValueError, match=r'example_csi\.csv has 13 packets, fewer than one '
                       r'window of 150'):
        tool.main([ESP32, '--out', str(tmp_path), '--fps', '1', '--layout',
                   'ps,t,r:150,30,3,3'])


def test_read_frame_timestamps(tmp_path, load_tool):
    read_frame_timestamps = load_tool(TOOL).read_frame_timestamps
    good = tmp_path / 'times.txt'
    good.write_text('# frame times\n0.0\n0.05\n\n0.10, frame 3\n')
    np.testing.assert_allclose(read_frame_timestamps(str(good)), [0.0, 0.05, 0.10])
    back = tmp_path / 'back.txt'
    back.write_text('0.0\n0.2\n0.1\n')
    with pytest.raises(ValueError, match=r'back\.txt go backwards at line 3'):
        read_frame_timestamps(str(back))
    bad = tmp_path / 'bad.txt'
    bad.write_text('0.0\nabc\n')
    with pytest.raises(ValueError, match=r"bad\.txt, line 2: 'abc'"):
        read_frame_timestamps(str(bad))
