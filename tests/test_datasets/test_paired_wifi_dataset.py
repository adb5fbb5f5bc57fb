# Copyright (c) mmdensekd contributors. All rights reserved.
import copy
import os.path as osp

import pytest

from mmdensekd.datasets import PairedWiFiDensePoseDataset
from mmdensekd.registry import DATASETS


def _paired_coco(dp_coco):
    coco = copy.deepcopy(dp_coco.coco)
    for img in coco['images']:
        img['csi_file'] = f"csi/{img['id']:06d}.mat"
    return coco


def test_paired_dataset_adds_csi_path(dp_coco, tmp_path):
    ann_file = dp_coco.write(_paired_coco(dp_coco))
    dataset = DATASETS.build(
        dict(type='PairedWiFiDensePoseDataset', data_root=str(tmp_path), ann_file=ann_file,
             data_prefix=dict(img=dp_coco.img_dir, csi='wifi'), pipeline=[]))
    assert isinstance(dataset, PairedWiFiDensePoseDataset)
    assert len(dataset) == 4
    info = next(
        dataset.get_data_info(i) for i in range(4) if dataset.get_data_info(i)['img_id'] == 785)
    assert info['csi_path'] == osp.join(str(tmp_path), 'wifi', 'csi', '000785.mat')
    assert info['img_path'] == osp.join(dp_coco.img_dir, '000000000785.jpg')
    assert info['instances'][0]['has_dp']


def test_paired_dataset_csi_prefix_defaults_to_data_root(dp_coco, tmp_path):
    dataset = PairedWiFiDensePoseDataset(
        data_root=str(tmp_path), ann_file=dp_coco.write(_paired_coco(dp_coco)),
        data_prefix=dict(img=dp_coco.img_dir), pipeline=[])
    paths = sorted(dataset.get_data_info(i)['csi_path'] for i in range(4))
    assert paths[0] == osp.join(str(tmp_path), 'csi', '000785.mat')


def test_paired_dataset_missing_csi_file_names_image(dp_coco):
    coco = _paired_coco(dp_coco)
    del coco['images'][2]['csi_file']
    bad_id = coco['images'][2]['id']
    with pytest.raises(ValueError, match=f"image id {bad_id} .*has no 'csi_file'"):
        PairedWiFiDensePoseDataset(ann_file=dp_coco.write(coco),
                                   data_prefix=dict(img=dp_coco.img_dir, csi=''), pipeline=[])


def test_paired_dataset_checks_the_sensing_layout_of_the_data(dp_coco, tmp_path):
    import json
    with open(tmp_path / 'meta.json', 'w') as f:
        json.dump(dict(csi=dict(layout='person-in-wifi-3d', shape=[3, 150, 3])), f)
    kwargs = dict(data_root=str(tmp_path), ann_file=dp_coco.write(_paired_coco(dp_coco)),
                  data_prefix=dict(img=dp_coco.img_dir), pipeline=[])
    dataset = PairedWiFiDensePoseDataset(csi_layout='person-in-wifi-3d', **kwargs)
    assert dataset.csi_layout.shape == (3, 150, 3) and len(dataset) == 4
    with pytest.raises(ValueError, match=r"meta.json: the data's CSI is 'person-in-wifi-3d'"):
        PairedWiFiDensePoseDataset(csi_layout='person-in-wifi', **kwargs)
    # no meta file (e.g. a recorded dataset): nothing to check
    other = dict(kwargs, data_root=str(tmp_path / 'elsewhere'))
    assert len(PairedWiFiDensePoseDataset(csi_layout='mmfi', **other)) == 4
