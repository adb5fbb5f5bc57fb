# Copyright (c) mmdensekd contributors. All rights reserved.
"""Bad-input matrix, round 2 (issue 24): inputs that used to be accepted
silently or ended in a raw traceback. Each case asserts the error text (naming
the file / id / key and, for tools, the flag), the counted skip or the exact
equality, under the SIGALRM limit of ``conftest.py``.

Items: 0 PicoScenes front ends, 1 image size vs annotation and degenerate
targets after geometric transforms, 2 checkpoints of another architecture,
3 test mode never skips, 4 legitimate protocol 0-5 pickles, 7 capture format
detection, 9 raw tracebacks, 10 negative keypoint visibility, 11 the image
demo on a folder, 12 the empty-capture wording.
"""
import importlib.util
import os
import os.path as osp
import pickle
import shutil
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CAPTURES = osp.join(ROOT, 'tests', 'data', 'wifi_captures')
QCA9300 = osp.join(CAPTURES, 'rx_by_qca9300_first100.csi')
USRP = osp.join(CAPTURES, 'rx_by_usrpN210_first16.csi')
IWL5300_PICO = osp.join(CAPTURES, 'rx_by_iwl5300_first40.csi')
INTEL_C1 = osp.join(CAPTURES, 'sample_0x5_64_3000_first40.dat')
INTEL = osp.join(CAPTURES, 'sample_0x1_ap.dat')
COCO_TINY = osp.join(ROOT, 'tests', 'data', 'coco_tiny')
DP_TINY_CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                          'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
KP_TINY_CONFIG = osp.join(ROOT, 'configs', 'keypoint_rcnn', 'keypoint-rcnn_tiny_cpu_coco-tiny.py')
CONVERTER = osp.join(ROOT, 'tools', 'dataset_converters', 'csi_capture_to_frames.py')


def _load_script(rel_path: str):
    path = osp.join(ROOT, rel_path)
    spec = importlib.util.spec_from_file_location('robust2_' + osp.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(args, cwd, timeout=280):
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _picoscenes_raw(path):
    """csiread's own reading of a PicoScenes file (info and timestamps)."""
    import csiread
    reader = csiread.Picoscenes(path, {'CSI': [1, 1, 1]}, if_report=False)
    reader.read()
    return reader.raw['CSI']['Info'], reader.raw['RxSBasic']['Timestamp'].astype(np.int64)


# --- 0: PicoScenes front ends -----------------------------------------------------
def test_picoscenes_qca9300_keeps_its_56_tones_and_3_antennas():
    from mmdensekd.datasets.csi_capture import read_csi_capture
    cap = read_csi_capture(QCA9300)
    info, stamps = _picoscenes_raw(QCA9300)
    assert cap.format == 'picoscenes' and cap.device == 'QCA9300'
    # the file's true shape: 56 tones, 3 receive chains, 1 stream (was (N, 30, 3, 2) zeros)
    assert cap.csi.shape == (100, 56, 3, 1)
    assert set(info['NumTones'].tolist()) == {56}
    assert (np.abs(cap.csi).reshape(100, -1).max(1) > 0).all()  # every packet non-zero
    np.testing.assert_array_equal(cap.subcarriers,
                                  [k for k in range(-28, 29) if k != 0])
    # microsecond NIC clock: seconds = ticks * 1e-6, packets 118 / 167 us apart
    np.testing.assert_allclose(cap.timestamps - cap.timestamps[0], (stamps - stamps[0]) * 1e-6)
    np.testing.assert_allclose(np.diff(cap.timestamps)[:2], [118e-6, 167e-6], atol=1e-9)


def test_picoscenes_usrp_n210_nanosecond_stamps_and_mixed_tones():
    from mmdensekd.datasets.csi_capture import read_csi_capture
    cap = read_csi_capture(USRP)
    info, stamps = _picoscenes_raw(USRP)
    tones = info['NumTones'].astype(int)
    assert cap.device == 'USRP' and cap.csi.shape == (16, 52, 1, 1)
    assert (np.abs(cap.csi).reshape(16, -1).max(1) > 0).all()
    # SDR front ends stamp with nanoseconds: 16 packets over 2.385 s, not 2385 s
    span = (stamps[-1] - stamps[0]) * 1e-9
    assert cap.timestamps[-1] - cap.timestamps[0] == pytest.approx(span, abs=1e-6)
    assert span == pytest.approx(2.38494617, abs=1e-6)
    assert (len(cap) - 1) / span == pytest.approx(6.2894, abs=1e-3)  # packets per second
    # the 56-tone packets (10, 13) are put on the 52-tone grid (counted); on the
    # shared subcarriers they keep their own values exactly
    assert np.nonzero(tones == 56)[0].tolist() == [10, 13] and cap.num_resampled == 2
    import csiread
    full = csiread.Picoscenes(USRP, {'CSI': [56, 1, 1]}, if_report=False)
    full.read()
    own = full.raw['CSI']['CSI'][10, 2:54, 0, 0]  # indices -26..26 of the -28..28 grid
    np.testing.assert_allclose(cap.csi[10, :, 0, 0], own.astype(np.complex64), rtol=1e-6)


def test_converter_writes_nonzero_frames_from_qca9300(tmp_path):
    import scipy.io
    tool = _load_script('tools/dataset_converters/csi_capture_to_frames.py')
    index = tool.main([QCA9300, '--out', str(tmp_path), '--fps', '200'])
    assert index['format'] == 'picoscenes' and index['stats']['num_packets'] == 100
    assert index['stats']['num_written'] >= 4
    amp = scipy.io.loadmat(str(tmp_path / index['frames'][0]['file']))['CSIamp']
    assert amp.shape == (150, 3, 3)  # person-in-wifi: 56 tones -> 30, 1 stream -> 3
    assert np.isfinite(amp).all() and (amp > 0).mean() > 0.9


def test_converter_windows_usrp_packets_in_seconds(tmp_path):
    tool = _load_script('tools/dataset_converters/csi_capture_to_frames.py')
    index = tool.main([USRP, '--out', str(tmp_path), '--fps', '10', '--min-packets', '1'])
    _, stamps = _picoscenes_raw(USRP)
    # 2.385 s at 10 fps: 23 frame windows (it was 23,849 s: 238,494 windows)
    assert index['stats']['num_frames'] in (23, 24)
    rate = 1.0 / np.median(np.diff(stamps * 1e-9))  # the packet rate the file implies
    assert index['stats']['packet_rate_hz'] == pytest.approx(rate, abs=1e-3)
    assert 50 < rate < 100 and index['stats']['num_written'] >= 2


def _zero_intel_payloads(src: str, dst) -> str:
    """An Intel 5300 capture whose every CSI payload is zero bytes."""
    buf = bytearray(open(src, 'rb').read())
    pos = 0
    while pos + 3 <= len(buf):
        flen = struct.unpack('>H', buf[pos:pos + 2])[0]
        if buf[pos + 2] == 0xbb:
            length = struct.unpack('<H', buf[pos + 19:pos + 21])[0]
            buf[pos + 23:pos + 23 + length] = bytes(length)
        pos += 2 + flen
    with open(dst, 'wb') as f:
        f.write(bytes(buf))
    return str(dst)


def test_all_zero_capture_is_refused(tmp_path):
    from mmdensekd.datasets.csi_capture import read_csi_capture
    zero = _zero_intel_payloads(INTEL, tmp_path / 'zero.dat')
    with pytest.raises(ValueError, match=r'all-zero CSI in .*zero\.dat \(intel5300\): every '
                       r'one of the 540 packets'):
        read_csi_capture(zero)


def test_all_zero_capture_through_converter_cli(tmp_path):
    zero = _zero_intel_payloads(INTEL, tmp_path / 'zero.dat')
    proc = _cli([CONVERTER, zero, '--out', str(tmp_path / 'out'), '--fps', '5'], tmp_path)
    assert proc.returncode == 1
    assert 'all-zero CSI in' in proc.stderr and 'zero.dat' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'out' / 'index.json').exists()


def test_nonfinite_sdr_csi_is_refused(tmp_path):
    """The USRP stores float64 CSI: a NaN in packet 0 is named."""
    import csiread

    from mmdensekd.datasets.csi_capture import read_csi_capture
    reader = csiread.Picoscenes(USRP, {'CSI': [52, 1, 1]}, if_report=False)
    reader.read()
    value = struct.pack('<d', float(reader.raw['CSI']['CSI'][0, 5, 0, 0].real))
    buf = bytearray(open(USRP, 'rb').read())
    first_frame = 4 + struct.unpack('<I', buf[:4])[0]
    at = buf.find(value, 0, first_frame)
    assert at > 0
    buf[at:at + 8] = struct.pack('<d', float('nan'))
    bad = tmp_path / 'nan.csi'
    bad.write_bytes(bytes(buf))
    with pytest.raises(ValueError, match=r'non-finite CSI in .*nan\.csi \(picoscenes\): '
                       r'packet 0 holds NaN or Inf \(1 of 16 packets\)'):
        read_csi_capture(str(bad))


def test_mixed_antennas_message_names_the_cli_flag(tmp_path):
    proc = _cli([CONVERTER, IWL5300_PICO, '--out', str(tmp_path / 'o'), '--fps', '5'],
                tmp_path)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert 'mixed antenna counts in' in line and 'rx_by_iwl5300_first40.csi' in line
    assert '--antennas majority' in line
    # the flag it names works
    tool = _load_script('tools/dataset_converters/csi_capture_to_frames.py')
    index = tool.main([IWL5300_PICO, '--out', str(tmp_path / 'ok'), '--fps', '5',
                       '--antennas', 'majority', '--min-packets', '1'])
    assert index['stats']['removed'] == {'antennas': 4}


def test_converter_debug_flag_shows_traceback(tmp_path):
    proc = _cli([CONVERTER, IWL5300_PICO, '--out', str(tmp_path / 'o'), '--fps', '5',
                 '--debug'], tmp_path)
    assert proc.returncode != 0 and 'Traceback' in proc.stderr


# --- 7: format detection ----------------------------------------------------------
def test_auto_format_scans_past_a_non_csi_first_record(tmp_path):
    from mmdensekd.datasets.csi_capture import detect_format, read_csi_capture
    with open(INTEL_C1, 'rb') as f:
        assert f.read(3)[2] == 0xc1  # record 0 is not a CSI record
    assert detect_format(INTEL_C1) == 'intel5300'
    cap = read_csi_capture(INTEL_C1)
    assert cap.format == 'intel5300' and cap.csi.shape == (20, 30, 3, 1)
    tool = _load_script('tools/dataset_converters/csi_capture_to_frames.py')
    index = tool.main([INTEL_C1, '--out', str(tmp_path), '--fps', '100', '--min-packets',
                       '1'])
    assert index['format'] == 'intel5300' and index['stats']['num_written'] >= 1


def test_auto_format_still_refuses_garbage(tmp_path):
    from mmdensekd.datasets.csi_capture import detect_format
    junk = tmp_path / 'junk.dat'
    junk.write_bytes(bytes([0x00, 0x10, 0xbb]) + bytes(range(200)))
    with pytest.raises(ValueError, match=r'cannot detect the CSI capture format of .*junk'):
        detect_format(str(junk))


# --- 12: wording ------------------------------------------------------------------
def test_empty_capture_wording(tmp_path):
    from mmdensekd.datasets.csi_capture import read_csi_capture
    empty = tmp_path / 'empty.dat'
    empty.write_bytes(b'')
    with pytest.raises(ValueError) as info:
        read_csi_capture(str(empty))
    assert str(info.value) == f'empty capture {empty}: no CSI packet'
    with pytest.raises(ValueError, match=r'no intel5300 CSI packet'):
        read_csi_capture(str(empty), fmt='intel5300')


# --- 1: image size vs annotation, degenerate targets --------------------------------
def _index_of(ds, img_id):
    return next(i for i in range(len(ds)) if ds.get_data_info(i)['img_id'] == img_id)


@pytest.fixture
def half_size_dir(tmp_path):
    """coco_tiny images with image 40083 stored at half its annotated size."""
    out = tmp_path / 'images'
    shutil.copytree(COCO_TINY, out, ignore=shutil.ignore_patterns('*.json', '*.md'))
    img = cv2.imread(str(out / '000000040083.jpg'))
    cv2.imwrite(str(out / '000000040083.jpg'), cv2.resize(img, (img.shape[1] // 2,
                                                                 img.shape[0] // 2)))
    return str(out)


def test_half_size_image_is_an_error_naming_file_and_id(tiny_coco, half_size_dir):
    ds = tiny_coco.dataset(data_prefix=dict(img=half_size_dir),
                           pipeline=[dict(type='LoadImageFromFileWithId')])
    with pytest.raises(ValueError, match=r'000000040083\.jpg of image id 40083 is 250x166 '
                       r'pixels but its annotation says width 500, height 333'):
        ds[_index_of(ds, 40083)]


def test_half_size_image_skipped_and_counted_in_training(tiny_coco, half_size_dir):
    ds = tiny_coco.dataset(data_prefix=dict(img=half_size_dir), skip_invalid_densepose=True,
                           pipeline=[dict(type='LoadImageFromFileWithId')])
    np.random.seed(0)
    sample = ds[_index_of(ds, 40083)]
    assert sample['img_id'] != 40083
    assert ds.num_skipped_samples == 1


def test_one_pixel_image_is_named(tiny_coco, tmp_path):
    out = tmp_path / 'images'
    shutil.copytree(COCO_TINY, out, ignore=shutil.ignore_patterns('*.json', '*.md'))
    cv2.imwrite(str(out / '000000000785.jpg'), np.zeros((1, 1, 3), np.uint8))
    ds = tiny_coco.dataset(data_prefix=dict(img=str(out)),
                           pipeline=[dict(type='LoadImageFromFileWithId'),
                                     dict(type='LoadDensePoseAnnotations')])
    with pytest.raises(ValueError, match=r'000000000785\.jpg of image id 785 is 1x1 pixels'):
        ds[_index_of(ds, 785)]


def test_size_matching_image_loads(tiny_coco):
    ds = tiny_coco.dataset(pipeline=[dict(type='LoadImageFromFileWithId')])
    sample = ds[_index_of(ds, 40083)]
    assert sample['img'].shape[:2] == (333, 500)


def _results_with_box(box, **extra):
    from mmdet.structures.bbox import HorizontalBoxes
    results = dict(img=np.zeros((100, 200, 3), np.uint8), img_shape=(100, 200),
                   ori_shape=(100, 200), img_path='x/img_7.jpg', img_id=7,
                   gt_bboxes=HorizontalBoxes(torch.tensor([box], dtype=torch.float32)),
                   gt_bboxes_labels=np.zeros(1, np.int64), gt_ignore_flags=np.zeros(1, bool),
                   instances=[dict(ann_id=70)])
    results.update(extra)
    return results


def test_degenerate_box_after_resize_is_named():
    from mmdensekd.datasets.transforms import DensePoseResize
    resize = DensePoseResize(scale=(100, 50), keep_ratio=True)
    with pytest.raises(ValueError, match=r'DensePoseResize: image x/img_7\.jpg \(image id 7\), '
                       r'instance 0, annotation id 70 .*degenerate box'):
        resize(_results_with_box([300.0, 10.0, 320.0, 40.0]))  # clipped to zero width


def test_nonfinite_keypoint_after_flip_is_named(tmp_path):
    import scipy.io

    from mmdensekd.datasets.transforms import DensePoseRandomFlip
    cells = np.empty((1, 24), dtype=object)
    for p in range(24):
        cells[0, p] = np.zeros((256, 256), np.float32)
    sym = str(tmp_path / 'UV_symmetry_transforms.mat')
    scipy.io.savemat(sym, dict(U_transforms=cells, V_transforms=cells))
    kpts = np.zeros((1, 17, 2), np.float32)
    kpts[0, 3] = np.inf
    flip = DensePoseRandomFlip(prob=1.0, uv_symmetry_file=sym)
    # keypoint 3 (left ear) is keypoint 4 (right ear) after the flip
    with pytest.raises(ValueError, match=r'DensePoseRandomFlip: image x/img_7\.jpg \(image '
                       r'id 7\), instance 0, annotation id 70 \(image 200x100\): visible '
                       r'keypoint 4 is \[-inf, inf\]'):
        flip(_results_with_box([10.0, 10.0, 50.0, 40.0], gt_keypoints=kpts,
                               gt_keypoints_visible=np.ones((1, 17), np.float32)))


def test_valid_targets_pass_the_geometric_checks():
    from mmdensekd.datasets.transforms import DensePoseResize
    out = DensePoseResize(scale=(100, 50), keep_ratio=True)(
        _results_with_box([10.0, 10.0, 50.0, 40.0]))
    np.testing.assert_allclose(out['gt_bboxes'].tensor.numpy(), [[5, 5, 25, 20]])


@pytest.mark.case_timeout(400)
def test_half_size_images_end_to_end_through_train(tmp_path):
    from mmdensekd.testing.tiny_densepose import build_tiny_densepose_coco
    data = osp.join(ROOT, 'tests', 'data')
    root = tmp_path / 'work_dirs' / 'tiny_densepose_coco'
    build_tiny_densepose_coco(str(root), osp.join(data, 'coco_tiny'),
                              osp.join(data, 'densepose_real', 'example_results.json'))
    for name in os.listdir(root / 'images'):
        img = cv2.imread(str(root / 'images' / name))
        cv2.imwrite(str(root / 'images' / name),
                    cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2)))
    proc = _cli([osp.join(ROOT, 'tools', 'train.py'), DP_TINY_CONFIG, '--work-dir',
                 str(tmp_path / 'run'), '--cfg-options', 'train_cfg.max_iters=1',
                 'train_cfg.val_begin=1000', 'train_dataloader.batch_size=1'], tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith('tools/train.py: error: ValueError: image file ')
    assert 'pixels but its annotation says width' in line and 'of image id' in line
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'run' / 'iter_1.pth').exists()


# --- 2: checkpoints that do not fit ------------------------------------------------
@pytest.fixture(scope='module')
def kprcnn_ckpt(tmp_path_factory):
    """A Keypoint R-CNN tiny checkpoint (``state_dict`` of the built model)."""
    from mmengine.config import Config

    from mmdensekd.registry import MODELS
    from mmdensekd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(KP_TINY_CONFIG).model)
    path = tmp_path_factory.mktemp('kp') / 'kprcnn_tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(note='kprcnn tiny')), str(path))
    return str(path)


@pytest.fixture(scope='module')
def dp_model():
    from mmengine.config import Config

    from mmdensekd.registry import MODELS
    from mmdensekd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.manual_seed(1)
    return MODELS.build(Config.fromfile(DP_TINY_CONFIG).model)


def test_wrong_architecture_checkpoint_names_keys(kprcnn_ckpt, dp_model):
    from mmdensekd.utils.checkpoint_compat import CheckpointMismatchError, load_checkpoint_strict
    before = {k: v.clone() for k, v in dp_model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint_strict(dp_model, kprcnn_ckpt)
    msg = str(info.value)
    assert f'checkpoint {kprcnn_ckpt} does not fit the model' in msg
    assert "keys missing: roi_head." in msg and '--allow-partial' in msg
    # nothing was loaded
    after = dp_model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_allow_partial_loads_only_matching_keys(kprcnn_ckpt, dp_model):
    from mmdensekd.utils.checkpoint_compat import load_checkpoint_strict
    ckpt = torch.load(kprcnn_ckpt, map_location='cpu', weights_only=True)['state_dict']
    own = dp_model.state_dict()
    shared = [k for k in own if k in ckpt and ckpt[k].shape == own[k].shape]
    missing = [k for k in own if k not in ckpt and not k.endswith('num_batches_tracked')]
    assert shared and missing
    load_checkpoint_strict(dp_model, kprcnn_ckpt, allow_partial=True)
    after = dp_model.state_dict()
    assert all(torch.equal(after[k], ckpt[k]) for k in shared)


def test_own_checkpoint_loads_strictly(dp_model, tmp_path):
    from mmdensekd.utils.checkpoint_compat import load_checkpoint_strict
    path = tmp_path / 'own.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in dp_model.state_dict().items()}),
               str(path))
    ckpt = load_checkpoint_strict(dp_model, str(path))
    assert 'state_dict' in ckpt


def test_truncated_checkpoint_is_named(dp_model, tmp_path):
    from mmdensekd.utils.checkpoint_compat import check_checkpoint_file, load_checkpoint_strict
    path = tmp_path / 'cut.pth'
    torch.save(dict(state_dict=dp_model.state_dict()), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r'checkpoint .*cut\.pth \(\d+ bytes\) is truncated'):
        check_checkpoint_file(str(path))
    with pytest.raises(ValueError, match=r'checkpoint .*cut\.pth \(\d+ bytes\) is truncated'):
        load_checkpoint_strict(dp_model, str(path))
    path.write_bytes(b'\x80\x02not a checkpoint')  # a legacy pickle torch cannot read
    with pytest.raises(ValueError, match=r'cannot read checkpoint .*cut\.pth'):
        load_checkpoint_strict(dp_model, str(path))


def test_truncated_checkpoint_in_train_resume(tmp_path):
    cut = tmp_path / 'iter_5.pth'
    torch.save(dict(state_dict={'w': torch.zeros(1000)}), str(cut))
    cut.write_bytes(cut.read_bytes()[:300])
    train = _load_script('tools/train.py')
    with pytest.raises(SystemExit, match=r'tools/train.py: error: ValueError: checkpoint '
                       r'.*iter_5\.pth \(300 bytes\) is truncated or corrupt'):
        train.main([DP_TINY_CONFIG, '--work-dir', str(tmp_path / 'w'), '--resume', str(cut)])


@pytest.mark.case_timeout(400)
def test_wrong_architecture_end_to_end_through_test(kprcnn_ckpt, tmp_path):
    from mmdensekd.testing.tiny_densepose import build_tiny_densepose_coco
    data = osp.join(ROOT, 'tests', 'data')
    build_tiny_densepose_coco(str(tmp_path / 'work_dirs' / 'tiny_densepose_coco'),
                              osp.join(data, 'coco_tiny'),
                              osp.join(data, 'densepose_real', 'example_results.json'))
    args = [osp.join(ROOT, 'tools', 'test.py'), DP_TINY_CONFIG, kprcnn_ckpt, '--work-dir',
            str(tmp_path / 'w')]
    proc = _cli(args, tmp_path)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert 'tools/test.py: error: CheckpointMismatchError: checkpoint' in line
    assert 'kprcnn_tiny.pth does not fit the model' in line
    assert 'keys missing: roi_head.' in line and '--allow-partial' in line
    assert 'Traceback' not in proc.stderr and 'bbox_mAP' not in proc.stdout + proc.stderr
    # the flag it names evaluates the matching weights, saying how many
    proc = _cli(args + ['--allow-partial', '--cfg-options', 'test_dataloader.dataset.indices=1'],
                tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'kprcnn_tiny.pth: loading ' in out and 'keys missing: roi_head.' in out
    assert 'bbox_mAP' in out


def test_truncated_checkpoint_in_test_tool(tmp_path, tiny_coco):
    cut = tmp_path / 'cut.pth'
    torch.save(dict(state_dict={'w': torch.zeros(1000)}), str(cut))
    cut.write_bytes(cut.read_bytes()[:300])
    test = _load_script('tools/test.py')
    with pytest.raises(SystemExit, match=r'tools/test.py: error: ValueError: checkpoint '
                       r'.*cut\.pth \(300 bytes\) is truncated or corrupt'):
        test.main([DP_TINY_CONFIG, str(cut), '--work-dir', str(tmp_path / 'w')])


# --- 3: test mode never skips -------------------------------------------------------
def test_test_mode_never_skips_a_missing_image(tiny_coco):
    coco = tiny_coco.copy()
    coco['images'][1]['file_name'] = 'no_such_file.jpg'
    with pytest.raises(FileNotFoundError, match=r'1 of 4 images have no file \(test mode never '
                       r'skips.*no_such_file\.jpg \(image id 40083\)'):
        tiny_coco.dataset(coco, skip_invalid_densepose=True, test_mode=True,
                          pipeline=[dict(type='LoadImageFromFileWithId')])


def test_test_mode_never_skips_invalid_densepose(tiny_coco):
    coco = tiny_coco.with_ann(0, dp_I=[30.0] * 20)
    with pytest.raises(ValueError, match='dp_I'):
        tiny_coco.dataset(coco, skip_invalid_densepose=True, test_mode=True)


def test_training_still_skips_a_missing_image(tiny_coco):
    coco = tiny_coco.copy()
    coco['images'][1]['file_name'] = 'no_such_file.jpg'
    ds = tiny_coco.dataset(coco, skip_invalid_densepose=True,
                           pipeline=[dict(type='LoadImageFromFileWithId')])
    assert ds.num_missing_images == 1 and len(ds) == 3


# --- 4: legitimate pickles ----------------------------------------------------------
@pytest.mark.parametrize('protocol', [0, 1, 2, 3, 4, 5])
def test_numpy_pickles_of_every_protocol_load(tmp_path, protocol):
    from collections import OrderedDict

    from mmdensekd.utils.safe_pickle import safe_load_pickle
    obj = dict(Pdist_matrix=np.linspace(0, 1, 12).reshape(12, 1), f32=np.float32(2.5),
               raw=b'\x00\xffbytes', order=OrderedDict(a=np.int64(3)), s={1, 2},
               fortran=np.asfortranarray(np.arange(6.0).reshape(2, 3)), c=1 + 2j)
    path = tmp_path / f'p{protocol}.pkl'
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    got = safe_load_pickle(str(path))
    np.testing.assert_array_equal(got['Pdist_matrix'], obj['Pdist_matrix'])
    np.testing.assert_array_equal(got['fortran'], obj['fortran'])
    assert got['raw'] == obj['raw'] and got['s'] == {1, 2} and got['c'] == 1 + 2j
    assert got['f32'] == np.float32(2.5) and got['order']['a'] == 3


def test_protocol2_pdist_matrix_gives_the_same_gps(tmp_path):
    from mmdensekd.evaluation.functional import load_densepose_eval_data, pairwise_gps
    from mmdensekd.testing.synthetic_eval_data import write_synthetic_eval_data
    os.makedirs(tmp_path / 'p4')
    p4 = write_synthetic_eval_data(str(tmp_path / 'p4'))
    p2 = str(tmp_path / 'p2')
    shutil.copytree(p4, p2)
    with open(osp.join(p4, 'Pdist_matrix.pkl'), 'rb') as f:
        assert f.read(2) == b'\x80\x04'
        f.seek(0)
        pdist = pickle.load(f)
    with open(osp.join(p2, 'Pdist_matrix.pkl'), 'wb') as f:
        pickle.dump(pdist, f, protocol=2)  # Python 3, protocol 2: bytes via _codecs.encode
    assert b'_codecs' in open(osp.join(p2, 'Pdist_matrix.pkl'), 'rb').read()
    ann = dict(id=7, image_id=1, bbox=[10, 20, 255, 255], dp_x=[5.5, 30.2, 60.0, 120.0],
               dp_y=[7.2, 40.0, 70.5, 130.0], dp_I=[1, 1, 3, 4], dp_U=[0.2, 0.2, 0.0, 0.4],
               dp_V=[0.5, 0.5, 0.0, 0.6])
    iuv = np.zeros((3, 255, 200), np.uint8)
    iuv[:, 7, 5] = (1, 51, 128)
    iuv[:, 40, 30] = (1, 178, 128)
    iuv[:, 70, 60] = (3, 0, 255)
    iuv[:, 130, 120] = (5, 102, 153)
    res = dict(image_id=1, category_id=1, bbox=[10, 20, 200, 255], score=0.9, iuv=iuv)
    gps2 = pairwise_gps([res], [ann], load_densepose_eval_data(p2))
    gps4 = pairwise_gps([res], [ann], load_densepose_eval_data(p4))
    assert gps2[0, 0] == gps4[0, 0] and 0 < gps4[0, 0] < 1


class _Reduce:
    """Unpickling calls ``func(*args)``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _eval_payload(marker):
    return _Reduce(eval, (f"open({marker!r}, 'w').close()", ))


def _exec_payload(marker):
    return _Reduce(exec, (f"open({marker!r}, 'w').close()", ))


def _subprocess_payload(marker):
    return _Reduce(subprocess.call, (['touch', marker], ))


def _system_payload(marker):
    return _Reduce(os.system, (f'touch {marker}', ))


def _nested_payload(marker):
    return {'Pdist_matrix': [np.zeros(2), {'deep': (_system_payload(marker), )}]}


def _dotted_payload(marker):
    """STACK_GLOBAL ``collections`` / ``OrderedDict.fromkeys`` (an attribute
    path): refused although ``collections.OrderedDict`` is allowed."""
    return pickle.PROTO + bytes([4]) + pickle.SHORT_BINUNICODE + bytes([11]) + b'collections' \
        + pickle.SHORT_BINUNICODE + bytes([20]) + b'OrderedDict.fromkeys' + pickle.STACK_GLOBAL \
        + pickle.STOP


def _codecs_payload(marker):
    import codecs
    return _Reduce(codecs.encode, ('abc', 'rot13'))


@pytest.mark.parametrize('make, refused', [
    (_eval_payload, r'(builtins|__builtin__)\.eval'),
    (_exec_payload, r'(builtins|__builtin__)\.exec'),
    (_subprocess_payload, r'(subprocess|commands)\.call'),
    (_system_payload, r'(posix|os|nt)\.system'),
    (_nested_payload, r'(posix|os|nt)\.system'),
    (_dotted_payload, r'collections\.OrderedDict\.fromkeys'),
    (_codecs_payload, r"_codecs\.encode\(str, 'rot13'\)"),
])
@pytest.mark.parametrize('protocol', [2, 4])
def test_code_running_pickles_still_refused(tmp_path, make, refused, protocol):
    from mmdensekd.utils.safe_pickle import safe_load_pickle
    marker = str(tmp_path / 'PWNED')
    payload = make(marker)
    path = tmp_path / 'Pdist_matrix.pkl'
    path.write_bytes(payload if isinstance(payload, bytes) else pickle.dumps(
        payload, protocol=protocol))
    with pytest.raises(ValueError, match=r'Pdist_matrix\.pkl.*refused .*' + refused):
        safe_load_pickle(str(path))
    assert not osp.exists(marker)


# --- 9 / 10: annotation files -------------------------------------------------------
def test_truncated_annotation_json_names_file(tiny_coco, tmp_path):
    path = tiny_coco.write()
    text = open(path).read()
    with open(path, 'w') as f:
        f.write(text[:len(text) // 2])
    from mmdensekd.datasets import DensePoseCocoDataset
    with pytest.raises(ValueError, match=r'annotation file .*gt\.json is not valid JSON'):
        DensePoseCocoDataset(ann_file=path, data_prefix=dict(img=COCO_TINY), pipeline=[])


@pytest.mark.parametrize('bbox', [['281', 45, 219, 347], '281 45 219 347'])
def test_string_bbox_names_file_and_ids(tiny_coco, bbox):
    with pytest.raises(ValueError, match=r'gt\.json: image id 785, annotation id 442619: '
                       r'bbox must be 4 numbers'):
        tiny_coco.dataset(tiny_coco.with_ann(0, bbox=bbox))


def test_negative_keypoint_visibility_is_an_error(tiny_coco):
    kpts = list(tiny_coco.dp_ann['keypoints'])
    kpts[3 * 4 + 2] = -1
    with pytest.raises(ValueError, match=r'gt\.json: image id 785, annotation id 442619: '
                       r'keypoint 4 has visibility -1 < 0'):
        tiny_coco.dataset(tiny_coco.with_ann(0, keypoints=kpts))


def test_negative_keypoint_visibility_skipped_and_counted(tiny_coco):
    kpts = list(tiny_coco.dp_ann['keypoints'])
    kpts[2] = -2
    ds = tiny_coco.dataset(tiny_coco.with_ann(0, keypoints=kpts), skip_invalid_densepose=True)
    assert ds.gt_report.invalid_keypoints == 1
    ann_ids = [inst['ann_id'] for i in range(len(ds))
               for inst in ds.get_data_info(i)['instances']]
    assert 442619 not in ann_ids and len(ann_ids) > 0


def test_nonfinite_keypoint_in_json_is_an_error(tiny_coco):
    kpts = list(tiny_coco.dp_ann['keypoints'])
    kpts[0] = float('nan')
    with pytest.raises(ValueError, match=r'annotation id 442619: keypoint 0 .* is not finite'):
        tiny_coco.dataset(tiny_coco.with_ann(0, keypoints=kpts))


# --- 11: image demo on a folder -----------------------------------------------------
class _FakeResult:
    class pred_instances:  # noqa: N801 - mimics the data sample's field
        scores = np.array([0.9])


@pytest.fixture
def demo(monkeypatch):
    module = _load_script('demo/image_demo.py')
    seen = []
    monkeypatch.setattr(module, 'init_model', lambda *a, **k: type('M', (), {
        'dataset_meta': {}})())
    monkeypatch.setattr(module, 'build_visualizer', lambda *a: type('V', (), {
        'add_datasample': lambda self, *a, **k: None})())
    monkeypatch.setattr(module, 'inference_model',
                        lambda model, img: seen.append(img.shape) or _FakeResult())
    module.seen = seen
    return module


def test_demo_folder_skips_and_counts_too_small_and_unreadable(demo, tmp_path, capsys):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    shutil.copy(osp.join(COCO_TINY, '000000000785.jpg'), folder / 'a.jpg')
    cv2.imwrite(str(folder / 'b.png'), np.full((10, 400, 3), 128, np.uint8))
    (folder / 'c.jpg').write_bytes(b'broken')
    shutil.copy(osp.join(COCO_TINY, '000000040083.jpg'), folder / 'd.jpg')
    written = demo.main(['cfg.py', 'ckpt.pth', '--img', str(folder), '--out-dir',
                         str(tmp_path / 'out')])
    assert [osp.basename(w) for w in written] == ['a.jpg', 'd.jpg']
    assert len(demo.seen) == 2
    out = capsys.readouterr().out
    assert 'b.png: image of 400x10 pixels; both sides must be at least 32 pixels, skipped ' \
        '(1 skipped)' in out
    assert 'c.jpg: cannot read this image file, skipped (2 skipped)' in out
    assert '2 of 4 files could not be read or were too small' in out


def test_demo_folder_of_only_bad_images_is_an_error(demo, tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    cv2.imwrite(str(folder / 'tiny.png'), np.zeros((8, 8, 3), np.uint8))
    (folder / 'broken.jpg').write_bytes(b'broken')
    with pytest.raises(ValueError, match=r'no image of .*imgs could be drawn \(2 skipped\)'):
        demo.main(['cfg.py', 'ckpt.pth', '--img', str(folder), '--out-dir', str(tmp_path)])


def test_demo_cli_error_is_one_line(tmp_path):
    proc = _cli([osp.join(ROOT, 'demo', 'image_demo.py'), DP_TINY_CONFIG, 'ckpt.pth',
                 '--img', str(tmp_path / 'missing.jpg'), '--out-dir', str(tmp_path)],
                tmp_path)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f'image_demo.py: error: FileNotFoundError: image file or directory '
        f'{tmp_path / "missing.jpg"} does not exist (--debug shows the traceback)')
