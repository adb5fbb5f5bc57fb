# Copyright (c) mmdensekd contributors. All rights reserved.
import json
import os.path as osp

import numpy as np
import pytest

from mmdensekd.datasets import PairedWiFiDensePoseDataset
from mmdensekd.datasets.transforms import CSIPhaseSanitize, LoadCSIFromFile
from mmdensekd.simulation import generate_dataset


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def test_same_seed_same_bytes_with_two_workers(tiny_dataset, tiny_opts, tmp_path):
    opts = tiny_opts
    out, meta = tiny_dataset
    again = generate_dataset(str(tmp_path / 'again'), workers=2, **opts)
    assert again['content_hash'] == meta['content_hash']
    for rel in ('annotations/densepose_train.json', 'images/val/000001.jpg',
                'csi/heldout/000000.mat', 'eval_data/Pdist_matrix.pkl'):
        assert _read(osp.join(out, rel)) == _read(osp.join(str(tmp_path / 'again'), rel))
    other = generate_dataset(str(tmp_path / 'other'), workers=1, **dict(opts, seed=6,
                                                                          num_val=0,
                                                                          num_test_layout=0))
    assert _read(osp.join(out, 'images/train/000000.jpg')) != _read(
        osp.join(str(tmp_path / 'other'), 'images/train/000000.jpg'))
    assert other['splits']['val']['images'] == 0


def test_layout_and_meta(tiny_dataset, tiny_opts):
    opts = tiny_opts
    out, meta = tiny_dataset
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f) == meta
    assert meta['options']['seed'] == opts['seed']
    layouts = {}
    for split in ('train', 'val', 'heldout'):
        with open(osp.join(out, 'annotations', f'densepose_{split}.json')) as f:
            coco = json.load(f)
        assert len(coco['images']) == opts[{'train': 'num_train', 'val': 'num_val',
                                             'heldout': 'num_test_layout'}[split]]
        layouts[split] = {img['layout_id'] for img in coco['images']}
        for img in coco['images']:
            assert osp.isfile(osp.join(out, img['file_name']))
            assert osp.isfile(osp.join(out, img['csi_file']))
    assert layouts['heldout'] == {2}
    assert layouts['train'] | layouts['val'] <= {0, 1}


def test_stale_frames_are_removed(tiny_opts, tmp_path):
    opts = dict(tiny_opts, num_val=0, num_test_layout=0, max_people=1, min_people=1)
    generate_dataset(str(tmp_path), workers=1, **dict(opts, num_train=3))
    assert osp.isfile(tmp_path / 'images' / 'train' / '000002.jpg')
    generate_dataset(str(tmp_path), workers=1, **dict(opts, num_train=2))
    assert not osp.exists(tmp_path / 'images' / 'train' / '000002.jpg')
    assert not osp.exists(tmp_path / 'csi' / 'train' / '000002.mat')


def test_bad_options_are_named(tmp_path):
    with pytest.raises(ValueError, match='layouts >= 2'):
        generate_dataset(str(tmp_path), layouts=1, num_test_layout=1, progress=False)
    with pytest.raises(ValueError, match='csi_layout'):
        generate_dataset(str(tmp_path), csi_layout='wisppn', progress=False)


def test_loads_with_paired_dataset_and_csi_transforms(tiny_dataset, tiny_opts):
    opts = tiny_opts
    out, meta = tiny_dataset
    dataset = PairedWiFiDensePoseDataset(
        data_root=out, ann_file='annotations/densepose_train.json',
        data_prefix=dict(img='', csi=''), pipeline=[])
    assert len(dataset) == opts['num_train']
    info = dataset.get_data_info(0)
    assert osp.isfile(info['img_path']) and osp.isfile(info['csi_path'])
    with_dp = [ins for i in range(len(dataset)) for ins in dataset.get_data_info(i)['instances']
               if ins['has_dp']]
    assert with_dp and all(len(ins['dp']['I']) > 20 for ins in with_dp)
    results = LoadCSIFromFile(expected_shape=(150, 3, 3))(dict(csi_path=info['csi_path']))
    assert results['csi_amplitude'].shape == (150, 3, 3)
    assert np.isfinite(results['csi_phase']).all()
    assert np.abs(results['csi_phase']).max() <= np.pi + 1e-5  # raw, wrapped phase
    sanitized = CSIPhaseSanitize(**meta['csi']['sanitize'])(results)['csi_phase']
    assert sanitized.shape == (150, 3, 3)


def test_mmfi_layout_loads(tiny_opts, tmp_path):
    opts = tiny_opts
    generate_dataset(str(tmp_path), workers=1, csi_layout='mmfi',
                     **dict(opts, num_train=1, num_val=0, num_test_layout=0))
    results = LoadCSIFromFile(expected_shape=(3, 114, 10))(
        dict(csi_path=str(tmp_path / 'csi' / 'train' / '000000.mat')))
    assert results['csi_amplitude'].shape == (3, 114, 10)
    assert results['csi_amplitude'].min() > 0


def test_command_line_tool(tmp_path, capsys):
    import importlib.util
    path = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters',
                    'make_synthetic_wifi_densepose.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_wifi_densepose', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    meta = tool.main(['--out-dir', str(tmp_path), '--num-train', '1', '--num-val', '1',
                      '--num-test-layout', '0', '--img-size', '96', '72', '--max-people', '1',
                      '--layouts', '2', '--csi-layout', 'mmfi', '--snr-db', '30', '--seed', '3',
                      '--workers', '1', '--channel', 'body_gain=2.5', '--stations', '3',
                      '--heading-jitter', '15'])
    assert 'wrote' in capsys.readouterr().out
    assert meta['options']['img_size'] == [96, 72] and meta['options']['snr_db'] == 30.0
    assert meta['options']['channel'] == {'body_gain': 2.5}
    assert meta['options']['stations'] == 3 and meta['options']['heading_jitter_deg'] == 15.0
    assert meta['csi']['shape'] == [3, 114, 10]
    assert osp.isfile(tmp_path / 'images' / 'val' / '000000.jpg')
    with pytest.raises(TypeError, match='bogus'):
        generate_dataset(str(tmp_path), channel=dict(bogus=1.0), progress=False)
    with pytest.raises(ValueError, match='heading_jitter_deg'):
        generate_dataset(str(tmp_path), heading_jitter_deg=-1.0, progress=False)
