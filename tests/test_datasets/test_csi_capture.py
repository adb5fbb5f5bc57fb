# Copyright (c) mmdensekd contributors. All rights reserved.
"""The CSI capture reader on the real captures of tests/data/wifi_captures."""
import os.path as osp
import struct

import numpy as np
import pytest

from mmdensekd.datasets.csi_capture import (
    CSICapture,
    detect_format,
    find_backward_steps,
    read_csi_capture,
    unwrap_timestamps,
)

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'wifi_captures')
INTEL = osp.join(DATA, 'sample_0x1_ap.dat')
ATHEROS = osp.join(DATA, 'ath_csi_1.dat')
ESP32 = osp.join(DATA, 'example_csi.csv')
NEXMON = osp.join(DATA, 'example.pcap')
QCA9300 = osp.join(DATA, 'rx_by_qca9300_first100.csi')
USRP = osp.join(DATA, 'rx_by_usrpN210_first16.csi')
IWL5300_PICO = osp.join(DATA, 'rx_by_iwl5300_first40.csi')
INTEL_C1 = osp.join(DATA, 'sample_0x5_64_3000_first40.dat')


@pytest.mark.parametrize('path, fmt, shape, rssi_chains', [
    (INTEL, 'intel5300', (540, 30, 3, 2), 3),
    (ATHEROS, 'atheros', (401, 56, 3, 2), 3),
    (ESP32, 'esp32', (13, 64, 1, 1), 1),
    (NEXMON, 'nexmon', (4, 256, 1, 1), 0),
])
def test_real_captures_parse_to_documented_shape(path, fmt, shape, rssi_chains):
    assert detect_format(path) == fmt
    capture = read_csi_capture(path)  # format detected
    assert isinstance(capture, CSICapture) and capture.format == fmt
    assert capture.csi.shape == shape and capture.csi.dtype == np.complex64
    assert len(capture) == shape[0]
    assert capture.timestamps.shape == (shape[0], ) and capture.timestamps.dtype == np.float64
    assert np.all(np.diff(capture.timestamps) >= 0)
    assert capture.rssi.shape == (shape[0], rssi_chains)
    assert (capture.nrx == shape[2]).all() and (capture.ntx == shape[3]).all()
    assert np.abs(capture.csi).mean() > 1  # real, non-zero channel measurements
    np.testing.assert_array_equal(capture.packet_index, np.arange(shape[0]))


@pytest.mark.parametrize('path, device, shape, tick, antennas', [
    (QCA9300, 'QCA9300', (100, 56, 3, 1), 1e-6, 'error'),
    (USRP, 'USRP', (16, 52, 1, 1), 1e-9, 'error'),
    (IWL5300_PICO, 'IWL5300', (36, 30, 2, 1), 1e-6, 'majority'),
])
def test_picoscenes_front_ends(path, device, shape, tick, antennas):
    """csiread's PicoScenes samples: each front end's own tones and antennas,
    non-zero CSI, timestamps in seconds by the front end's unit."""
    import csiread
    assert detect_format(path) == 'picoscenes'
    capture = read_csi_capture(path, antennas=antennas)
    assert capture.device == device and capture.csi.shape == shape
    assert (np.abs(capture.csi).reshape(shape[0], -1).max(1) > 0).all()
    assert len(capture.subcarriers) == shape[1] and 0 not in capture.subcarriers
    raw = csiread.Picoscenes(path, {'CSI': [1, 1, 1]}, if_report=False)
    raw.read()
    stamps = raw.raw['RxSBasic']['Timestamp'].astype(np.int64)[capture.packet_index]
    np.testing.assert_allclose(capture.timestamps - capture.timestamps[0],
                               (stamps - stamps[0]) * tick, atol=1e-6)
    # the Intel 5300 front end reads the same CSI values as through PicoScenes' own
    # tone/antenna layout: the 30 Intel subcarriers
    if device == 'IWL5300':
        np.testing.assert_array_equal(capture.subcarriers[[0, 1, -1]], [-28, -26, 28])


def test_intel_capture_starting_with_a_non_csi_record():
    assert open(INTEL_C1, 'rb').read(3)[2] == 0xc1
    assert detect_format(INTEL_C1) == 'intel5300'
    capture = read_csi_capture(INTEL_C1)
    assert capture.csi.shape == (20, 30, 3, 1) and np.abs(capture.csi).mean() > 1


def test_intel_fields_match_csiread():
    import csiread
    raw = csiread.Intel(INTEL, nrxnum=3, ntxnum=2, pl_size=10, if_report=False)
    raw.read()
    capture = read_csi_capture(INTEL, 'intel5300')
    np.testing.assert_allclose(capture.csi, raw.csi.astype(np.complex64))
    np.testing.assert_allclose(capture.timestamps * 1e6, raw.timestamp_low.astype(np.int64),
                               atol=0.5)
    np.testing.assert_array_equal(capture.rssi[:, 0], raw.rssi_a)
    # the real file: 540 consecutive bfee counts (nothing lost in the netlink pipe),
    # 59.6 s at about 10 packets/s, no clock wrap
    assert capture.num_dropped == 0 and capture.num_wraps == 0
    assert capture.timestamps[-1] - capture.timestamps[0] == pytest.approx(59.619582)


def test_unwrap_32bit_clock():
    period = 2**32
    true = np.array([period - 300, period - 200, period - 100, period + 50, period + 3 * 10**9,
                     2 * period + 10, 2 * period + 20])
    raw = (true % period).astype(np.uint32)
    unwrapped, wraps = unwrap_timestamps(raw)
    assert wraps == 2
    np.testing.assert_array_equal(unwrapped - unwrapped[0], true - true[0])
    # a small step back is not a wrap: it is reported
    values, wraps = unwrap_timestamps(np.array([100, 200, 150, 300], np.uint32))
    assert wraps == 0
    np.testing.assert_array_equal(find_backward_steps(values), [2])
    np.testing.assert_array_equal(unwrap_timestamps(np.array([5, 1]), None)[0], [5, 1])


def _intel_with_timestamps(tmp_path, times, nrx=None):
    """The real Intel capture's first records with rewritten timestamps / Nrx."""
    buf = bytearray(open(INTEL, 'rb').read())
    pos, out = 0, bytearray()
    for i, t in enumerate(times):
        flen = struct.unpack('>H', buf[pos:pos + 2])[0]
        rec = bytearray(buf[pos:pos + 2 + flen])
        rec[3:7] = struct.pack('<I', int(t) % 2**32)
        out += rec
        pos += 2 + flen
    path = tmp_path / 'rewritten.dat'
    path.write_bytes(bytes(out))
    return str(path)


def test_intel_wrap_and_backwards(tmp_path):
    period = 2**32
    times = [period - 250000, period - 150000, period - 50000, period + 50000, period + 150000]
    capture = read_csi_capture(_intel_with_timestamps(tmp_path, times), 'intel5300')
    assert capture.num_wraps == 1
    np.testing.assert_allclose(np.diff(capture.timestamps), 0.1, atol=1e-9)

    back = [1000000, 1100000, 1050000, 1200000, 1300000]
    path = _intel_with_timestamps(tmp_path, back)
    with pytest.raises(ValueError, match=r'rewritten\.dat: packet 2 at 1\.050000 s'):
        read_csi_capture(path, 'intel5300')
    dropped = read_csi_capture(path, 'intel5300', backwards='drop')
    assert len(dropped) == 4 and dropped.removed == {'backwards': 1}
    np.testing.assert_array_equal(dropped.packet_index, [0, 1, 3, 4])


def test_mixed_antennas(tmp_path):
    import csiread
    capture = read_csi_capture(INTEL)
    # emulate a stream whose packets 3 and 7 used 2 receive antennas
    capture.nrx[[3, 7]] = 2
    from mmdensekd.datasets.csi_capture import _select_antennas
    with pytest.raises(ValueError, match=r'mixed antenna counts in .*sample_0x1_ap\.dat: '
                       r'packet 0 has Nrx=3, Ntx=2 but packet 3 has Nrx=2'):
        _select_antennas(capture, 'error')
    major = _select_antennas(capture, 'majority')
    assert len(major) == 538 and major.removed == {'antennas': 2}
    pair = _select_antennas(capture, (2, 2))
    assert len(pair) == 2 and pair.csi.shape == (2, 30, 2, 2)
    with pytest.raises(ValueError, match='no packet has Nrx=1'):
        _select_antennas(capture, (1, 1))
    assert csiread.__version__ == '1.4.1'


@pytest.mark.parametrize('src, fmt, match', [
    (ATHEROS, 'intel5300', r'ath_csi_1\.dat is not an intel5300 capture'),
    (INTEL, 'atheros', r'sample_0x1_ap\.dat is not an atheros capture'),
    (INTEL, 'nexmon', r'sample_0x1_ap\.dat is not a nexmon'),
    (NEXMON, 'esp32', r'example\.pcap is not an esp32 capture'),
])
def test_wrong_format(src, fmt, match):
    with pytest.raises(ValueError, match=match):
        read_csi_capture(src, fmt)


@pytest.mark.parametrize('src, cut, match', [
    (INTEL, 100000, r'truncated capture .*cut\.dat: packet 253 at byte 99935 needs 395 bytes'),
    (ATHEROS, 300000, r'truncated capture .*cut\.dat: packet 157 at byte 299399'),
    (NEXMON, 3000, r'truncated capture .*cut\.dat: packet 2 at byte 2224'),
    (ESP32, 3000, r'truncated capture .*cut\.dat: packet 6 \(line 7\)'),
])
def test_truncated(tmp_path, src, cut, match):
    path = tmp_path / 'cut.dat'
    path.write_bytes(open(src, 'rb').read()[:cut])
    fmt = detect_format(src)
    with pytest.raises(ValueError, match=match):
        read_csi_capture(str(path), fmt)
    kept = read_csi_capture(str(path), fmt, allow_truncated=True)
    full = read_csi_capture(src, fmt)
    assert 0 < len(kept) < len(full)
    np.testing.assert_array_equal(kept.csi, full.csi[:len(kept)])


def test_empty_and_missing(tmp_path):
    empty = tmp_path / 'empty.dat'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=r'empty capture .*empty\.dat'):
        read_csi_capture(str(empty))
    with pytest.raises(ValueError, match=r'empty capture .*empty\.dat'):
        read_csi_capture(str(empty), 'intel5300')
    header_only = tmp_path / 'header.pcap'
    header_only.write_bytes(open(NEXMON, 'rb').read()[:24])
    with pytest.raises(ValueError, match=r'empty capture .*header\.pcap: no nexmon'):
        read_csi_capture(str(header_only))
    with pytest.raises(FileNotFoundError, match='nothing'):
        read_csi_capture(str(tmp_path / 'nothing.dat'))
    with pytest.raises(ValueError, match="unknown CSI capture format 'wifi'"):
        read_csi_capture(INTEL, 'wifi')
    junk = tmp_path / 'junk.bin'
    junk.write_bytes(b'\x00\x01' * 64)
    with pytest.raises(ValueError, match=r'cannot detect the CSI capture format of .*junk'):
        read_csi_capture(str(junk))


def test_picoscenes_frames_are_checked_before_parsing(tmp_path):
    """The frame walk runs before csiread, on a crafted frame header."""
    with pytest.raises(ValueError, match=r'sample_0x1_ap\.dat is not a picoscenes capture'):
        read_csi_capture(INTEL, 'picoscenes')
    frame = struct.pack('<II', 100, 0x20150315) + b'\x01\x00' + bytes(20)
    path = tmp_path / 'rx.csi'
    path.write_bytes(frame)
    assert detect_format(str(path)) == 'picoscenes'
    with pytest.raises(ValueError, match=r'truncated capture .*rx\.csi: packet 0 at byte 0 '
                       r'needs 104 bytes but the file ends after 30'):
        read_csi_capture(str(path))
