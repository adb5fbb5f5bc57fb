# Copyright (c) mmdensekd contributors. All rights reserved.
"""Bad-input matrix, files and settings: images, CSI frames, demo inputs,
evaluation data, configs and metric requests. Each case asserts an error
naming the file / id / key, or a counted skip, under the SIGALRM limit of
``conftest.py``."""
import importlib.util
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import scipy.io
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COCO_TINY = osp.join(ROOT, 'tests', 'data', 'coco_tiny')
CSI_DIR = osp.join(ROOT, 'tests', 'data', 'wifi_csi', 'mmfi_frames')

TINY_CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                       'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')


def _load_script(rel_path: str):
    path = osp.join(ROOT, rel_path)
    spec = importlib.util.spec_from_file_location('robust_' + osp.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def img_dir(tmp_path):
    """A copy of the coco_tiny images whose image 40083 is garbage bytes."""
    out = tmp_path / 'images'
    shutil.copytree(COCO_TINY, out, ignore=shutil.ignore_patterns('*.json', '*.md'))
    (out / '000000040083.jpg').write_bytes(b'not a jpeg at all' * 10)
    return str(out)


def _index_of(ds, img_id):
    return next(i for i in range(len(ds)) if ds.get_data_info(i)['img_id'] == img_id)


# --- images ---------------------------------------------------------------------
def test_missing_image_skipped_when_asked(tiny_coco, tmp_path):
    coco = tiny_coco.copy()
    coco['images'][1]['file_name'] = 'no_such_file.jpg'
    ds = tiny_coco.dataset(coco, skip_invalid_densepose=True)
    assert ds.num_missing_images == 1
    assert 40083 not in [ds.get_data_info(i)['img_id'] for i in range(len(ds))]


def test_missing_image_is_an_error_naming_it(tiny_coco):
    coco = tiny_coco.copy()
    coco['images'][1]['file_name'] = 'no_such_file.jpg'
    ds = tiny_coco.dataset(coco, pipeline=[dict(type='LoadImageFromFileWithId')])
    with pytest.raises(FileNotFoundError, match='no_such_file.jpg of image id 40083'):
        ds[_index_of(ds, 40083)]


def test_corrupt_image_is_an_error_naming_it(tiny_coco, img_dir):
    ds = tiny_coco.dataset(data_prefix=dict(img=img_dir),
                           pipeline=[dict(type='LoadImageFromFileWithId')])
    with pytest.raises(OSError, match='000000040083.jpg of image id 40083'):
        ds[_index_of(ds, 40083)]


def test_corrupt_image_replaced_and_counted_in_training(tiny_coco, img_dir):
    ds = tiny_coco.dataset(data_prefix=dict(img=img_dir), skip_invalid_densepose=True,
                           pipeline=[dict(type='LoadImageFromFileWithId')])
    np.random.seed(0)
    sample = ds[_index_of(ds, 40083)]
    assert sample['img_id'] != 40083 and sample['img'].ndim == 3
    assert ds.num_skipped_samples >= 1


def test_corrupt_image_never_skipped_in_test_mode(tiny_coco, img_dir):
    ds = tiny_coco.dataset(data_prefix=dict(img=img_dir), skip_invalid_densepose=True,
                           test_mode=True, pipeline=[dict(type='LoadImageFromFileWithId')])
    with pytest.raises(OSError, match='000000040083.jpg'):
        ds[_index_of(ds, 40083)]


# --- CSI frames -----------------------------------------------------------------
def _paired(tiny_coco, tmp_path, break_frame=None, **kwargs):
    from mmdensekd.datasets import PairedWiFiDensePoseDataset
    csi = tmp_path / 'csi'
    csi.mkdir(exist_ok=True)
    coco = tiny_coco.copy()
    for k, img in enumerate(coco['images']):
        name = f'frame{k + 1:03d}.mat'
        img['csi_file'] = name
        shutil.copy(osp.join(CSI_DIR, name), csi / name)
    if break_frame is not None:
        break_frame(csi / 'frame002.mat')  # image 40083
    return PairedWiFiDensePoseDataset(
        ann_file=tiny_coco.write(coco), data_prefix=dict(img=COCO_TINY, csi=str(csi)),
        pipeline=[dict(type='LoadCSIFromFile', expected_shape=(3, 114, 10))], **kwargs)


def _nan_frame(path):
    mat = scipy.io.loadmat(str(path))
    amp = mat['CSIamp'].copy()
    amp[0, 5, 3] = np.nan
    scipy.io.savemat(str(path), dict(CSIamp=amp, CSIphase=mat['CSIphase']))


def test_nonfinite_csi_is_an_error_naming_file(tiny_coco, tmp_path):
    ds = _paired(tiny_coco, tmp_path, _nan_frame)
    with pytest.raises(ValueError, match=r'frame002\.mat: amplitude holds 1 NaN/inf'):
        ds[_index_of(ds, 40083)]


def test_nonfinite_csi_frame_skipped_and_counted(tiny_coco, tmp_path):
    ds = _paired(tiny_coco, tmp_path, _nan_frame, skip_invalid_densepose=True)
    np.random.seed(0)
    sample = ds[_index_of(ds, 40083)]
    assert sample['img_id'] != 40083 and np.isfinite(sample['csi_amplitude']).all()
    assert ds.num_skipped_samples >= 1


def test_csi_of_wrong_shape(tiny_coco, tmp_path):
    def reshape(path):
        mat = scipy.io.loadmat(str(path))
        scipy.io.savemat(str(path), dict(CSIamp=mat['CSIamp'][:2], CSIphase=mat['CSIphase'][:2]))

    ds = _paired(tiny_coco, tmp_path, reshape)
    with pytest.raises(ValueError, match=r'frame002\.mat: amplitude has shape \(2, 114, 10\)'):
        ds[_index_of(ds, 40083)]


def test_csi_not_a_mat_file(tiny_coco, tmp_path):
    ds = _paired(tiny_coco, tmp_path, lambda p: p.write_bytes(b'garbage' * 20))
    with pytest.raises(ValueError, match=r'Cannot read CSI file .*frame002\.mat'):
        ds[_index_of(ds, 40083)]


def test_missing_csi_file_skipped_when_asked(tiny_coco, tmp_path):
    ds = _paired(tiny_coco, tmp_path, lambda p: p.unlink(), skip_invalid_densepose=True)
    assert ds.num_missing_images == 1
    assert 40083 not in [ds.get_data_info(i)['img_id'] for i in range(len(ds))]


# --- demo inputs ----------------------------------------------------------------
class _FakeResult:
    class pred_instances:  # noqa: N801 - mimics the data sample's field
        scores = np.array([0.9])


@pytest.fixture
def demo(monkeypatch):
    """demo/image_demo.py with the model replaced: the skip policy is tested,
    not the network."""
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


def test_demo_skips_unreadable_file_in_folder(demo, tmp_path, capsys):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    shutil.copy(osp.join(COCO_TINY, '000000000785.jpg'), folder / 'a.jpg')
    (folder / 'b.jpg').write_bytes(b'broken')
    shutil.copy(osp.join(COCO_TINY, '000000040083.jpg'), folder / 'c.jpg')
    written = demo.main(['cfg.py', 'ckpt.pth', '--img', str(folder), '--out-dir',
                         str(tmp_path / 'out')])
    assert [osp.basename(w) for w in written] == ['a.jpg', 'c.jpg']
    out = capsys.readouterr().out
    assert 'b.jpg: cannot read this image file, skipped (1 skipped)' in out
    assert '1 of 3 files could not be read' in out


def test_demo_single_unreadable_file_is_an_error(demo, tmp_path):
    bad = tmp_path / 'b.jpg'
    bad.write_bytes(b'broken')
    with pytest.raises(OSError, match='cannot read image file .*b.jpg'):
        demo.main(['cfg.py', 'ckpt.pth', '--img', str(bad), '--out-dir', str(tmp_path)])


def test_demo_1x2000_image_names_file(demo, tmp_path):
    import cv2
    thin = tmp_path / 'thin.png'
    cv2.imwrite(str(thin), np.full((1, 2000, 3), 128, dtype=np.uint8))
    with pytest.raises(ValueError, match=r'thin\.png: image of 2000x1 pixels'):
        demo.main(['cfg.py', 'ckpt.pth', '--img', str(thin), '--out-dir', str(tmp_path)])
    assert demo.seen == []  # never reached the model


# --- evaluation data ------------------------------------------------------------
def test_explicit_gps_with_wrong_eval_dir_is_an_error(tiny_coco, tmp_path):
    tool = _load_script('tools/analysis/eval_densepose_results.py')
    results = tmp_path / 'res.json'
    results.write_text(json.dumps([]))
    with pytest.raises(SystemExit, match=r"--modes GPS: .*directory '/wrong/dir': "
                       r'SMPL_subdiv.mat, SMPL_SUBDIV_TRANSFORM.mat, Pdist_matrix.pkl'):
        tool.main([str(results), tiny_coco.write(), '--modes', 'GPS', '--eval-data',
                   '/wrong/dir'])


def test_default_modes_fall_back_to_iou(tiny_coco, tmp_path):
    tool = _load_script('tools/analysis/eval_densepose_results.py')
    results = tmp_path / 'res.json'
    results.write_text(json.dumps([]))
    stats = tool.main([str(results), tiny_coco.write(), '--eval-data', '/wrong/dir'])
    assert 'IOU_AP' in stats and 'GPS_AP' not in stats


def test_eval_tool_names_bad_gt(tiny_coco, tmp_path):
    tool = _load_script('tools/analysis/eval_densepose_results.py')
    results = tmp_path / 'res.json'
    results.write_text(json.dumps([]))
    gt = tiny_coco.write(tiny_coco.with_ann(0, dp_V=[-0.5] * 20))
    with pytest.raises(ValueError, match=r'gt.json: image id 785, annotation id 442619: dp_V'):
        tool.main([str(results), gt, '--modes', 'IOU'])


# --- configs --------------------------------------------------------------------
@pytest.fixture(scope='module')
def train_tool():
    from mmdensekd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return _load_script('tools/train.py')


def test_misspelt_hook_option_is_an_early_error(train_tool):
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict({'default_hooks.checkpoint.intervall': 5})
    with pytest.raises(SystemExit, match="default_hooks.checkpoint: AtomicCheckpointHook has "
                       "no option 'intervall' \\(did you mean 'interval'\\?\\)"):
        train_tool.check_config(cfg)


def test_misspelt_hook_option_rejected_by_the_hook():
    from mmdensekd.engine.hooks import AtomicCheckpointHook
    with pytest.raises(TypeError, match="unknown option\\(s\\) 'intervall' \\(did you mean "
                       "'interval'\\?\\)"):
        AtomicCheckpointHook(intervall=5)


def test_bad_guard_option(train_tool):
    from mmdensekd.engine.hooks import NonFiniteGuardHook
    with pytest.raises(ValueError, match="action must be one of .*got 'ignore'"):
        NonFiniteGuardHook(action='ignore')
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict({'default_hooks.nonfinite_guard.max_skip': 3})
    with pytest.raises(SystemExit, match="NonFiniteGuardHook has no option 'max_skip' "
                       "\\(did you mean 'max_skips'\\?\\)"):
        train_tool.check_config(cfg)


def test_misspelt_top_level_key_warns_or_fails(train_tool):
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict({'train_cfgg': dict(max_iters=3)})
    with pytest.warns(UserWarning, match="'train_cfgg' \\(did you mean 'train_cfg'\\?\\)"):
        train_tool.check_config(cfg)
    with pytest.raises(SystemExit, match="(?s)--strict-config.*'train_cfgg'"):
        train_tool.check_config(cfg, strict=True)


def test_config_variables_are_not_reported(train_tool, recwarn):
    train_tool.check_config(Config.fromfile(TINY_CONFIG), strict=True)
    assert not [w for w in recwarn if 'top-level' in str(w.message)]


# --- metric requests ------------------------------------------------------------
def test_keypoint_metric_on_model_without_keypoint_head(train_tool):
    from mmdensekd.registry import MODELS
    test_tool = _load_script('tools/test.py')
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    with pytest.raises(SystemExit, match='CocoKeypointMetric needs a keypoint head'):
        test_tool.check_metric_requirements(model, [dict(type='CocoKeypointMetric')])
    test_tool.check_metric_requirements(model, [dict(type='DensePoseMetric')])


# --- the same through the command line: errors before any training / inference --
def _cli(args, cwd):
    import subprocess
    import sys
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_train_cli_rejects_misspelt_option_before_training(tmp_path):
    proc = _cli([osp.join(ROOT, 'tools', 'train.py'), TINY_CONFIG, '--work-dir',
                 str(tmp_path / 'w'), '--cfg-options', 'default_hooks.checkpoint.intervall=5'],
                tmp_path)
    assert proc.returncode != 0
    assert "AtomicCheckpointHook has no option 'intervall' (did you mean 'interval'?)" \
        in proc.stderr
    assert not (tmp_path / 'w').exists()  # nothing was built, let alone trained


def test_test_cli_rejects_keypoint_metric_before_inference(tmp_path):
    fake_ckpt = tmp_path / 'never_loaded.pth'
    fake_ckpt.write_bytes(b'not a checkpoint: the run must stop before loading it')
    proc = _cli([osp.join(ROOT, 'tools', 'test.py'), TINY_CONFIG, str(fake_ckpt), '--work-dir',
                 str(tmp_path / 'w'), '--eval', 'keypoints'], tmp_path)
    assert proc.returncode != 0
    assert 'CocoKeypointMetric needs a keypoint head' in proc.stderr, proc.stderr[-2000:]
