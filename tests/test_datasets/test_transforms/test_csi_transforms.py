# Copyright (c) mmdensekd contributors. All rights reserved.
import os.path as osp

import h5py
import numpy as np
import pytest
import scipy.io

from mmdensekd.datasets.transforms.csi_transforms import (
    CSIPhaseSanitize,
    LoadCSIFromFile,
    PackCSI,
    _is_hdf5,
)
from mmdensekd.registry import TRANSFORMS

DATA = osp.join(osp.dirname(__file__), '..', '..', 'data', 'wifi_csi')
MMFI = osp.join(DATA, 'mmfi_frames', 'frame001.mat')
WISPPN = osp.join(DATA, 'wisppn_oct17set1_fw_1814.mat')


def test_load_mmfi_v5():
    results = LoadCSIFromFile(expected_shape=(3, 114, 10))(dict(csi_path=MMFI))
    raw = scipy.io.loadmat(MMFI)
    assert results['csi_amplitude'].shape == (3, 114, 10)
    assert results['csi_amplitude'].dtype == np.float32
    assert results['csi_shape'] == (3, 114, 10)
    np.testing.assert_allclose(results['csi_amplitude'], raw['CSIamp'], rtol=1e-6)
    np.testing.assert_allclose(results['csi_phase'], raw['CSIphase'], rtol=1e-6)
    with open(MMFI, 'rb') as f:
        assert not _is_hdf5(f.read())


def test_load_wisppn_v73_amplitude_only():
    with open(WISPPN, 'rb') as f:
        assert _is_hdf5(f.read())
    with h5py.File(WISPPN, 'r') as f:
        raw = f['csi_serial'][()]  # (3, 3, 30, 5): MATLAB axes reversed
    loader = TRANSFORMS.build(
        dict(type='LoadCSIFromFile', amp_key='csi_serial', phase_key=None, reshape=(150, 3, 3),
             expected_shape=(150, 3, 3), missing_phase='zeros'))
    results = loader(dict(csi_path=WISPPN))
    assert results['csi_amplitude'].shape == (150, 3, 3)
    np.testing.assert_allclose(results['csi_amplitude'], raw.transpose().reshape(150, 3, 3),
                               rtol=1e-6)
    assert not results['csi_phase'].any() and results['csi_phase'].shape == (150, 3, 3)
    assert loader.num_missing_phase == 1
    # h5py order when not transposed back to MATLAB order
    raw_order = LoadCSIFromFile(amp_key='csi_serial', phase_key=None, hdf5_transpose=False,
                                missing_phase='zeros')(dict(csi_path=WISPPN))
    assert raw_order['csi_amplitude'].shape == (3, 3, 30, 5)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r'frame001\.mat.*expected \(3, 30, 10\)'):
        LoadCSIFromFile(expected_shape=(3, 30, 10))(dict(csi_path=MMFI))
    with pytest.raises(ValueError, match=r"frame001\.mat has no variable 'amp'"):
        LoadCSIFromFile(amp_key='amp')(dict(csi_path=MMFI))
    with pytest.raises(ValueError, match=r'wisppn_oct17set1_fw_1814\.mat has no phase'):
        LoadCSIFromFile(amp_key='csi_serial', phase_key=None)(dict(csi_path=WISPPN))
    bad = tmp_path / 'corrupt.mat'
    bad.write_bytes(b'not a mat file at all' * 10)
    with pytest.raises(ValueError, match=r'corrupt\.mat'):
        LoadCSIFromFile()(dict(csi_path=str(bad)))
    with pytest.raises(ValueError, match=r'missing\.mat'):
        LoadCSIFromFile()(dict(csi_path=str(tmp_path / 'missing.mat')))


def test_load_nonfinite(tmp_path):
    amp = np.ones((3, 114, 10))
    amp[0, 5, 2] = np.nan
    amp[1, 0, 0] = np.inf
    path = tmp_path / 'nan.mat'
    scipy.io.savemat(str(path), dict(CSIamp=amp, CSIphase=np.zeros((3, 114, 10))))
    with pytest.raises(ValueError, match=r'nan\.mat: amplitude holds 2 NaN/inf'):
        LoadCSIFromFile()(dict(csi_path=str(path)))
    loader = LoadCSIFromFile(nonfinite='zero')
    results = loader(dict(csi_path=str(path)))
    assert results['csi_amplitude'][0, 5, 2] == 0 and results['csi_amplitude'][1, 0, 0] == 0
    assert results['csi_amplitude'].sum() == 3 * 114 * 10 - 2
    assert loader.num_nonfinite == 1


def _wrapped_ramp(shape=(3, 114, 10), seed=0):
    """Wrapped phase: per-antenna slope along subcarriers + per-packet constant."""
    rng = np.random.default_rng(seed)
    f = np.arange(shape[1])[None, :, None]
    slope = rng.uniform(-2.0, 2.0, size=(shape[0], 1, 1))
    const = rng.uniform(-3.0, 3.0, size=(shape[0], 1, shape[2]))
    return np.angle(np.exp(1j * (slope * f + const)))


def test_sanitize_removes_exact_linear_ramp():
    phase = _wrapped_ramp()
    assert np.abs(phase).max() > 3  # really wrapped
    results = CSIPhaseSanitize()(dict(csi_phase=phase.astype(np.float32)))
    assert results['csi_phase'].dtype == np.float32
    assert np.abs(results['csi_phase']).max() < 1e-5
    # float64 input, larger windows, no float32 rounding on the way in
    out = CSIPhaseSanitize(median_size=(5, 3), uniform_size=(7, 5)).sanitize(phase)
    assert np.abs(out).max() < 1e-6
    # without unwrapping the wrapped ramp is not linear and survives
    kept = CSIPhaseSanitize(unwrap=False, median_size=1, uniform_size=1).sanitize(phase)
    assert np.abs(kept).max() > 1


def test_sanitize_person_in_wifi_view():
    phase = _wrapped_ramp(shape=(9, 30, 5), seed=3)  # (tx*rx, subcarrier, packet)
    piw = phase.reshape(3, 3, 30, 5).transpose(3, 2, 0, 1).reshape(150, 3, 3)
    sanitize = CSIPhaseSanitize(view_shape=(5, 30, 3, 3), subcarrier_axis=1, packet_axis=0)
    out = sanitize(dict(csi_phase=piw))['csi_phase']
    assert out.shape == (150, 3, 3)
    assert np.abs(out).max() < 1e-5


def test_sanitize_real_phase_properties():
    results = LoadCSIFromFile(expected_shape=(3, 114, 10))(dict(csi_path=MMFI))
    raw = results['csi_phase'].copy()
    out = CSIPhaseSanitize()(results)['csi_phase']
    assert out.shape == (3, 114, 10) and np.isfinite(out).all()
    assert not np.allclose(out, raw)
    # the removed line passes through the end points and the mean:
    # equal first/last subcarrier values and zero mean over subcarriers
    np.testing.assert_allclose(out[:, 0], out[:, -1], atol=1e-5)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-5)


def test_sanitize_config_errors():
    with pytest.raises(ValueError, match='median_size'):
        CSIPhaseSanitize(median_size=4)
    with pytest.raises(ValueError, match='must differ'):
        CSIPhaseSanitize(subcarrier_axis=1, packet_axis=1)
    with pytest.raises(ValueError, match=r'x\.mat: packet_axis=3 is out of range'):
        CSIPhaseSanitize(packet_axis=3)(dict(csi_phase=np.zeros((3, 4, 5)), csi_path='x.mat'))


def test_pack_csi_pipeline():
    pipeline = [
        TRANSFORMS.build(dict(type='LoadCSIFromFile', expected_shape=(3, 114, 10))),
        TRANSFORMS.build(dict(type='CSIPhaseSanitize')),
        TRANSFORMS.build(dict(type='PackCSI')),
    ]
    results = dict(csi_path=MMFI)
    for t in pipeline:
        results = t(results)
    assert results['csi'].shape == (2, 3, 114, 10) and results['csi'].dtype == np.float32
    np.testing.assert_array_equal(results['csi'][0], results['csi_amplitude'])
    np.testing.assert_array_equal(results['csi'][1], results['csi_phase'])
    with pytest.raises(ValueError, match=r'y\.mat: cannot stack'):
        PackCSI()(dict(csi_amplitude=np.zeros((2, 3)), csi_phase=np.zeros((3, 2)),
                       csi_path='y.mat'))


def test_layout_names_shape_and_sanitiser():
    """A config names a layout; the loader and sanitiser take its shape and
    axes (the same arrays as the explicit arguments)."""
    from mmdensekd.structures.csi_layout import CSI_LAYOUTS
    piw = CSI_LAYOUTS['person-in-wifi']
    assert LoadCSIFromFile(layout='person-in-wifi').expected_shape == (150, 3, 3)
    with pytest.raises(ValueError, match='disagrees with layout'):
        LoadCSIFromFile(layout='person-in-wifi', expected_shape=(3, 114, 10))
    named = CSIPhaseSanitize(layout='person-in-wifi')
    explicit = CSIPhaseSanitize(**piw.sanitize_kwargs())
    phase = np.random.default_rng(0).uniform(-np.pi, np.pi, (150, 3, 3))
    np.testing.assert_array_equal(named.sanitize(phase), explicit.sanitize(phase))
    assert (named.subcarrier_axis, named.packet_axis, named.view_shape) == (1, 0, (5, 30, 3, 3))
    mmfi = CSIPhaseSanitize(layout='mmfi')
    assert (mmfi.subcarrier_axis, mmfi.packet_axis, mmfi.view_shape) == (1, 2, None)
    with pytest.raises(ValueError, match='not both'):
        CSIPhaseSanitize(layout='mmfi', packet_axis=None)
