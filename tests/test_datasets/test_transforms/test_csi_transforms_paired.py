# Copyright (c) mmdensekd contributors. All rights reserved.
"""The real WiSPPN sample read as a paired sample: CSI + camera frame + joints."""
import os.path as osp
import shutil

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from mmengine.registry import init_default_scope

from mmdensekd.datasets import WiSPPNPairedDataset
from mmdensekd.datasets.transforms import LoadCSIFromFile, PackDensePoseInputs
from mmdensekd.datasets.transforms.csi_transforms import OPENPOSE18_TO_COCO17

DATA = osp.join(osp.dirname(__file__), '..', '..', 'data', 'wifi_csi')
WISPPN = osp.join(DATA, 'wisppn_oct17set1_fw_1814.mat')
LOADER = dict(type='LoadCSIFromFile', amp_key='csi_serial', phase_key=None,
              missing_phase='zeros', reshape=(150, 3, 3), expected_shape=(150, 3, 3),
              frame_key='frame', joints_key='jointsVector', joints_scale=0.5)


def _loader(**kwargs) -> LoadCSIFromFile:
    cfg = dict(LOADER, **kwargs)
    cfg.pop('type')
    return LoadCSIFromFile(**cfg)


def test_wisppn_paired_sample():
    results = _loader()(dict(csi_path=WISPPN))
    with h5py.File(WISPPN, 'r') as f:
        frame = f['frame'][()].transpose()  # MATLAB order: (360, 640, 3) RGB
        joints = f['jointsVector'][()].reshape(4, 18)
        amp = f['csi_serial'][()].transpose().reshape(150, 3, 3)
    np.testing.assert_allclose(results['csi_amplitude'], amp, rtol=1e-6)
    img = results['img']
    assert img.shape == (360, 640, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, frame[..., ::-1])  # BGR, as mmcv loads images
    assert results['img_shape'] == results['ori_shape'] == (360, 640)
    assert results['img_path'] == WISPPN
    # OpenPose-18 joints (x, y, confidence), scaled from the 1280x720 camera to the frame
    np.testing.assert_allclose(results['openpose_joints'][:, 0], joints[0] * 0.5, rtol=1e-6)
    np.testing.assert_allclose(results['openpose_joints'][:, 2], joints[2], rtol=1e-6)
    kpts = results['gt_keypoints']
    assert kpts.shape == (1, 17, 2) and results['gt_keypoints_visible'].shape == (1, 17)
    assert results['gt_keypoints_visible'].all()  # every joint detected in this frame
    np.testing.assert_allclose(kpts[0], joints[:2].T[list(OPENPOSE18_TO_COCO17)] * 0.5,
                               rtol=1e-6)
    # nose above the shoulders above the ankles; inside the frame
    assert kpts[0, 0, 1] < kpts[0, 5, 1] < kpts[0, 15, 1]
    assert (kpts[0] >= 0).all() and (kpts[0, :, 0] < 640).all() and (kpts[0, :, 1] < 360).all()
    box = results['gt_bboxes'].tensor.numpy()[0]
    assert box[0] <= kpts[0, :, 0].min() and box[2] >= kpts[0, :, 0].max()
    assert box[1] <= kpts[0, :, 1].min() and box[3] >= kpts[0, :, 1].max()
    assert 0 <= box[0] < box[2] <= 640 and 0 <= box[1] < box[3] <= 360


def test_wisppn_dataset_packs_image_and_csi(tmp_path):
    init_default_scope('mmdet')  # as our configs (default_scope='mmdet')
    for name in ('a.mat', 'b.mat'):
        shutil.copyfile(WISPPN, tmp_path / name)
    (tmp_path / 'list.txt').write_text('b.mat\n')
    pipeline = [LOADER, dict(type='PackCSI'), dict(type='PackDensePoseInputs')]
    dataset = WiSPPNPairedDataset(data_root=str(tmp_path), pipeline=pipeline)
    assert len(dataset) == 2 and dataset.metainfo['classes'] == ('person', )
    sample = dataset[1]
    assert set(sample['inputs']) == {'img', 'csi'}
    assert tuple(sample['inputs']['img'].shape) == (3, 360, 640)
    assert tuple(sample['inputs']['csi'].shape) == (2, 150, 3, 3)
    gt = sample['data_samples'].gt_instances
    assert tuple(gt.keypoints.shape) == (1, 17, 2) and tuple(gt.bboxes.shape) == (1, 4)
    assert gt.labels.tolist() == [0]
    assert sample['data_samples'].metainfo['csi_path'].endswith('b.mat')
    listed = WiSPPNPairedDataset(data_root=str(tmp_path), ann_file='list.txt',
                                 pipeline=pipeline)
    assert len(listed) == 1 and listed[0]['data_samples'].img_path.endswith('b.mat')
    (tmp_path / 'bad.txt').write_text('a.mat\nmissing.mat\n')
    with pytest.raises(FileNotFoundError, match=r'bad\.txt, line 2: .*missing\.mat'):
        WiSPPNPairedDataset(data_root=str(tmp_path), ann_file='bad.txt')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no .mat sample'):
        WiSPPNPairedDataset(data_root=str(tmp_path / 'empty'), data_prefix=dict(csi=''))
    assert isinstance(PackDensePoseInputs()(_loader()(dict(csi_path=WISPPN)))['inputs'],
                      torch.Tensor)


def test_paired_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"wisppn_oct17set1_fw_1814\.mat has no variable "
                       r"'jointsMatrix2'"):
        _loader(joints_key='jointsMatrix2')(dict(csi_path=WISPPN))
    path = str(tmp_path / 'sample.mat')
    scipy.io.savemat(path, dict(CSIamp=np.ones((150, 3, 3)), CSIphase=np.zeros((150, 3, 3)),
                                frame=np.zeros((4, 5)), joints=np.ones(10)))
    with pytest.raises(ValueError, match=r"sample\.mat: frame 'frame' has shape \(4, 5\)"):
        LoadCSIFromFile(frame_key='frame')(dict(csi_path=path))
    with pytest.raises(ValueError, match=r"sample\.mat: joints 'joints' has 10 values"):
        LoadCSIFromFile(joints_key='joints')(dict(csi_path=path))
    # non-finite values and wrong shapes: a ValueError naming the file
    amp = np.ones((150, 3, 3))
    amp[3, 1, 1] = np.inf
    scipy.io.savemat(path, dict(CSIamp=amp, CSIphase=np.zeros((150, 3, 3))))
    with pytest.raises(ValueError, match=r'sample\.mat: amplitude holds 1 NaN/inf'):
        LoadCSIFromFile(expected_shape=(150, 3, 3))(dict(csi_path=path))
    scipy.io.savemat(path, dict(CSIamp=np.ones((150, 3, 2)), CSIphase=np.ones((150, 3, 2))))
    with pytest.raises(ValueError, match=r'sample\.mat: amplitude has shape \(150, 3, 2\), '
                       r'expected \(150, 3, 3\)'):
        LoadCSIFromFile(expected_shape=(150, 3, 3))(dict(csi_path=path))
    scipy.io.savemat(path, dict(CSIamp=np.ones((150, 3, 3)), CSIphase=np.ones((150, 3, 2))))
    with pytest.raises(ValueError, match=r'sample\.mat: amplitude shape \(150, 3, 3\) differs'):
        LoadCSIFromFile()(dict(csi_path=path))
