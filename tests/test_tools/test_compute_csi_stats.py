# Copyright (c) mmdensekd contributors. All rights reserved.
import importlib.util
import json
import os.path as osp

import h5py
import numpy as np
import pytest
import scipy.io

from mmdensekd.datasets.transforms.csi_transforms import CSIPhaseSanitize

ROOT = osp.join(osp.dirname(__file__), '..', '..')
DATA = osp.join(ROOT, 'tests', 'data', 'wifi_csi')
_spec = importlib.util.spec_from_file_location(
    'compute_csi_stats', osp.join(ROOT, 'tools', 'analysis', 'compute_csi_stats.py'))
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def test_stats_on_real_mmfi_frames(tmp_path, capsys):
    out_file = tmp_path / 'stats.json'
    stats = tool.main([osp.join(DATA, 'mmfi_frames'), '--out', str(out_file),
                       '--expected-shape', '3', '114', '10'])
    files = [osp.join(DATA, 'mmfi_frames', f'frame{i:03d}.mat') for i in range(1, 13)]
    mats = [scipy.io.loadmat(f) for f in files]
    amp = np.stack([m['CSIamp'] for m in mats])
    phase = np.stack([CSIPhaseSanitize().sanitize(m['CSIphase']) for m in mats])
    assert stats['num_samples'] == 12 and stats['shape'] == [3, 114, 10]
    np.testing.assert_allclose(stats['csi_mean'][0], amp.mean(), rtol=1e-5)
    np.testing.assert_allclose(stats['csi_std'][0], amp.std(), rtol=1e-4)
    assert abs(stats['csi_mean'][1]) < 1e-5  # sanitised phase is centred per row
    np.testing.assert_allclose(stats['csi_std'][1], phase.std(), rtol=1e-4)
    assert json.loads(out_file.read_text())['csi_mean'] == stats['csi_mean']
    assert 'csi_mean=[' in capsys.readouterr().out


def test_stats_amplitude_only_v73_and_per_element():
    path = osp.join(DATA, 'wisppn_oct17set1_fw_1814.mat')
    stats = tool.main([path, '--amp-key', 'csi_serial', '--phase-key', 'none',
                       '--missing-phase', 'zeros', '--reshape', '150', '3', '3',
                       '--no-sanitize', '--per-element'])
    with h5py.File(path, 'r') as f:
        raw = f['csi_serial'][()]
    np.testing.assert_allclose(stats['csi_mean'][0], raw.mean(), rtol=1e-5)
    assert stats['csi_mean'][1] == 0.0 and stats['csi_std'][1] == 1.0  # zero std -> 1
    assert np.asarray(stats['csi_mean_per_element']).shape == (2, 150, 3, 3)


def test_stats_errors(tmp_path):
    with pytest.raises(ValueError, match='No .mat files'):
        tool.main([str(tmp_path)])
    with pytest.raises(ValueError, match='frame001.mat'):
        tool.main([osp.join(DATA, 'mmfi_frames', 'frame001.mat'), '--expected-shape', '1', '2'])


def _mmfi_config(tmp_path, sanitize: bool) -> str:
    """A config whose train set is the 12 real MM-Fi CSI frames (with stand-in
    8x8 frames) and whose pipeline does or does not sanitise the phase."""
    import shutil

    import cv2
    seq = tmp_path / 'E01' / 'S01' / 'A01'
    (seq / 'rgb').mkdir(parents=True, exist_ok=True)
    (seq / 'wifi-csi').mkdir(exist_ok=True)
    images = []
    for i in range(1, 13):
        shutil.copy(osp.join(DATA, 'mmfi_frames', f'frame{i:03d}.mat'),
                    seq / 'wifi-csi' / f'frame{i:03d}.mat')
        cv2.imwrite(str(seq / 'rgb' / f'frame{i:03d}.png'), np.zeros((8, 8, 3), np.uint8))
        images.append(dict(id=i, file_name=f'E01/S01/A01/rgb/frame{i:03d}.png', height=8,
                           width=8))
    (tmp_path / 'frames.json').write_text(json.dumps(dict(
        images=images, annotations=[], categories=[dict(id=1, name='person')])))
    csi = ["dict(type='LoadCSIFromFile', expected_shape=(3, 114, 10))"]
    if sanitize:
        csi.append("dict(type='CSIPhaseSanitize')")
    cfg = tmp_path / f'cfg_{sanitize}.py'
    cfg.write_text(f"""
default_scope = 'mmdet'
train_dataloader = dict(dataset=dict(
    type='MMFiDensePoseDataset', data_root={str(tmp_path)!r}, ann_file='frames.json',
    data_prefix=dict(img='', csi=''), pipeline=[
        dict(type='LoadImageFromFileWithId'), {', '.join(csi)},
        dict(type='PackCSI'), dict(type='DensePoseResize', scale=(16, 16), keep_ratio=True),
        dict(type='PackDensePoseInputs')]))
""")
    return str(cfg)


def test_stats_follow_the_config_pipeline(tmp_path, capsys):
    """With CSIPhaseSanitize in the pipeline the phase std is the sanitised
    one (about 0.9 on these frames), not the raw phase's 1.8."""
    mats = [scipy.io.loadmat(osp.join(DATA, 'mmfi_frames', f'frame{i:03d}.mat'))
            for i in range(1, 13)]
    raw = np.stack([m['CSIphase'] for m in mats])
    sanitised = np.stack([CSIPhaseSanitize().sanitize(m['CSIphase']) for m in mats])
    stats = tool.main([_mmfi_config(tmp_path, sanitize=True)])
    assert stats['transforms'] == ['LoadImageFromFileWithId', 'LoadCSIFromFile',
                                   'CSIPhaseSanitize']
    assert stats['num_samples'] == 12 and stats['shape'] == [3, 114, 10]
    np.testing.assert_allclose(stats['csi_std'][1], sanitised.std(), rtol=1e-4)
    assert stats['csi_std'][1] < 1.2 and abs(raw.std() - 1.8) < 0.1
    assert 'phase: mean' in capsys.readouterr().out
    # without sanitisation in the pipeline the tool reports the raw phase
    raw_stats = tool.compute_csi_stats(_mmfi_config(tmp_path, sanitize=False))
    np.testing.assert_allclose(raw_stats['csi_std'][1], raw.std(), rtol=1e-4)
    np.testing.assert_allclose(raw_stats['csi_mean'][0], stats['csi_mean'][0], rtol=1e-6)
    # --write-meta stores them in the dataset's meta file (data_root/meta.json)
    tool.main([_mmfi_config(tmp_path, sanitize=True), '--write-meta'])
    from mmdensekd.datasets.csi_stats import read_csi_stats
    assert read_csi_stats(str(tmp_path / 'meta.json')) == (stats['csi_mean'], stats['csi_std'])
    # a built dataset works too, and max_samples limits the samples
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmdensekd.registry import DATASETS
    init_default_scope('mmdet')
    dataset = DATASETS.build(Config.fromfile(_mmfi_config(tmp_path, True)).train_dataloader.dataset)
    part = tool.compute_csi_stats(dataset, max_samples=3)
    assert part['num_samples'] == 3
    np.testing.assert_allclose(part['csi_std'][1], sanitised[:3].std(), rtol=1e-4)
