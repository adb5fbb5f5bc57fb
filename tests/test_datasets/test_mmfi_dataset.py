# Copyright (c) mmdensekd contributors. All rights reserved.
import json
import os
import os.path as osp

import numpy as np
import pytest
import scipy.io

from mmdensekd.datasets import MMFiDensePoseDataset
from mmdensekd.datasets.transforms import LoadImageFromFileWithId, PackDensePoseInputs
from mmdensekd.registry import DATASETS


def _make_mmfi(root, frames=((1, 1, 1, 1), (1, 1, 1, 2), (2, 3, 14, 7))):
    """Tiny MM-Fi tree + pseudo-label json; returns (ann_file, images)."""
    import cv2
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for n, (env, sub, act, frame) in enumerate(frames):
        seq = f'E{env:02d}/S{sub:02d}/A{act:02d}'
        os.makedirs(osp.join(root, seq, 'rgb'), exist_ok=True)
        os.makedirs(osp.join(root, seq, 'wifi-csi'), exist_ok=True)
        file_name = f'{seq}/rgb/frame{frame:03d}.png'
        cv2.imwrite(osp.join(root, file_name), rng.integers(0, 255, (24, 32, 3), np.uint8))
        scipy.io.savemat(
            osp.join(root, seq, 'wifi-csi', f'frame{frame:03d}.mat'),
            dict(CSIamp=rng.random((3, 114, 10)), CSIphase=rng.random((3, 114, 10))))
        images.append(dict(id=n + 1, file_name=file_name, height=24, width=32))
        annotations.append(
            dict(id=100 + n, image_id=n + 1, category_id=1, bbox=[4, 2, 20, 18], area=360,
                 iscrowd=0, keypoints=[10, 10, 2] * 17, num_keypoints=17,
                 dp_x=[10.0, 100.0], dp_y=[20.0, 200.0], dp_I=[1.0, 14.0],
                 dp_U=[0.2, 0.4], dp_V=[0.6, 0.8]))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=1, name='person', supercategory='person')])
    ann_file = osp.join(root, 'pseudo_gt.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return ann_file, coco


def test_mmfi_pairs_rgb_and_csi_by_frame(tmp_path):
    root = str(tmp_path / 'mmfi')
    ann_file, coco = _make_mmfi(root)
    dataset = DATASETS.build(
        dict(type='MMFiDensePoseDataset', data_root=root, ann_file='pseudo_gt.json',
             data_prefix=dict(img=''), pipeline=[]))
    assert isinstance(dataset, MMFiDensePoseDataset)
    assert len(dataset) == 3
    infos = {dataset.get_data_info(i)['img_id']: dataset.get_data_info(i) for i in range(3)}
    info = infos[3]
    assert info['img_path'] == osp.join(root, 'E02/S03/A14/rgb/frame007.png')
    assert info['csi_path'] == osp.join(root, 'E02/S03/A14/wifi-csi/frame007.mat')
    assert (info['environment'], info['subject'], info['action'], info['frame']) == \
        ('E02', 'S03', 'A14', 7)
    for info in infos.values():
        assert osp.isfile(info['csi_path']) and osp.isfile(info['img_path'])
        assert info['instances'][0]['has_dp']
    assert dataset.csi_file_of('./E01/S01/A01/rgb/frame012.jpg') == \
        'E01/S01/A01/wifi-csi/frame012.mat'
    assert dataset.csi_file_of('E01/S01/rgb/frame012.png') is None

    # a pipeline with a stand-in CSI array: csi_path reaches the sample metainfo
    results = LoadImageFromFileWithId()(dict(infos[1]))
    results['csi'] = np.zeros((2, 3, 114, 10), np.float32)
    packed = PackDensePoseInputs()(results)
    assert packed['inputs']['img'].shape == (3, 24, 32)
    assert packed['data_samples'].csi_path.endswith('E01/S01/A01/wifi-csi/frame001.mat')


def test_mmfi_custom_csi_prefix(tmp_path):
    root = str(tmp_path / 'mmfi')
    ann_file, _ = _make_mmfi(root, frames=((1, 1, 1, 5), ))
    dataset = MMFiDensePoseDataset(data_root=root, ann_file=ann_file,
                                   data_prefix=dict(img='', csi='/data/csi_root'), pipeline=[])
    expected = '/data/csi_root/E01/S01/A01/wifi-csi/frame005.mat'
    assert dataset.get_data_info(0)['csi_path'] == expected


def test_mmfi_rejects_unconventional_file_name(tmp_path):
    root = str(tmp_path / 'mmfi')
    ann_file, coco = _make_mmfi(root, frames=((1, 1, 1, 1), ))
    coco['images'][0]['file_name'] = 'frames/img_0001.png'
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    with pytest.raises(ValueError, match=r"image id 1 has file_name 'frames/img_0001.png'"):
        MMFiDensePoseDataset(data_root=root, ann_file=ann_file, data_prefix=dict(img=''),
                             pipeline=[])
