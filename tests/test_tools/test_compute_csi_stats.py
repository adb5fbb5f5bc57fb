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
