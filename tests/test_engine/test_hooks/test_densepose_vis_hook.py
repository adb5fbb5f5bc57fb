# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePoseVisualizationHook: every interval-th val / test sample drawn next
to its ground truth, into files and into every visualiser backend."""
import json
import os
import shutil
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.registry import VISBACKENDS
from mmengine.structures import InstanceData
from mmengine.visualization import BaseVisBackend, Visualizer

from mmdensekd.engine.hooks import DensePoseVisualizationHook
from mmdensekd.registry import DATASETS
from mmdensekd.structures import DensePoseChartResults
from mmdensekd.visualization import DensePoseVisualizer, fine_part_palette

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
IMG = '000000000785.jpg'
BOX = [280.0, 40.0, 200.0, 320.0]


@VISBACKENDS.register_module(force=True)
class RecordingVisBackend(BaseVisBackend):
    """Records the images it is given (stands in for TensorBoard etc.)."""

    calls: list = []

    @property
    def experiment(self):
        return self

    def _init_env(self):
        pass

    def add_image(self, name, image, step=0, **kwargs):
        RecordingVisBackend.calls.append((name, tuple(image.shape), step))


def _copy_image(tmp_path):
    (tmp_path / 'images').mkdir(exist_ok=True)
    shutil.copy(os.path.join(ROOT, 'tests', 'data', 'coco_tiny', IMG), tmp_path / 'images')


def _dataset(tmp_path):
    _copy_image(tmp_path)
    ann = dict(id=1, image_id=785, category_id=1, iscrowd=0, bbox=BOX, area=BOX[2] * BOX[3],
               keypoints=[0] * 51, num_keypoints=0, dp_x=[128.0], dp_y=[128.0], dp_I=[5.0],
               dp_U=[0.5], dp_V=[0.5])
    coco = dict(images=[dict(id=785, file_name=IMG, height=425, width=640)],
                annotations=[ann], categories=[dict(id=1, name='person')])
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    return DATASETS.build(dict(type='DensePoseCocoDataset', data_root=str(tmp_path) + '/',
                               ann_file='ann.json', data_prefix=dict(img='images/'),
                               test_mode=True, pipeline=[]))


def _prediction(tmp_path, scale=1.0):
    sample = DetDataSample(metainfo=dict(img_path=str(tmp_path / 'images' / IMG), img_id=785,
                                         ori_shape=(425, 640), scale_factor=(scale, scale)))
    x0, y0, w, h = BOX
    pred = InstanceData(bboxes=torch.tensor([[x0, y0, x0 + w, y0 + h]]),
                        scores=torch.tensor([0.9]), labels=torch.tensor([0]))
    pred.densepose = DensePoseChartResults([torch.full((int(h), int(w)), 2, dtype=torch.uint8)],
                                           [torch.rand(2, int(h), int(w))])
    sample.pred_instances = pred
    return sample


def _runner(tmp_path, name, dataset):
    visualizer = DensePoseVisualizer(name=name, vis_backends=[dict(type='RecordingVisBackend')],
                                     save_dir=str(tmp_path / 'vis'), point_radius=1)
    loader = SimpleNamespace(dataset=dataset)
    return SimpleNamespace(visualizer=visualizer, iter=120, log_dir=str(tmp_path / 'log'),
                           val_dataloader=loader, test_dataloader=loader)


@pytest.mark.parametrize('num, interval', [(3, 2), (2, 3)])
def test_val_draws_every_interval_th_sample_beside_gt(tmp_path, num, interval):
    RecordingVisBackend.calls.clear()
    runner = _runner(tmp_path, f'vis_hook_val_{num}_{interval}', _dataset(tmp_path))
    hook = DensePoseVisualizationHook(interval=interval)
    hook.before_run(runner)
    hook.before_val_epoch(runner)
    # N * k samples in batches of 2 (the last batch may be shorter)
    samples = [_prediction(tmp_path) for _ in range(num * interval)]
    for b in range(0, len(samples), 2):
        hook.after_val_iter(runner, b // 2, {}, samples[b:b + 2])
    assert hook.num_drawn['val'] == num
    files = sorted(os.listdir(tmp_path / 'log' / 'densepose_vis'))
    assert len(files) == num
    assert len(RecordingVisBackend.calls) == num
    assert all(c == (f'val_{IMG}', (425, 1280, 3), 120) for c in RecordingVisBackend.calls)
    drawn = cv2.cvtColor(cv2.imread(str(tmp_path / 'log' / 'densepose_vis' / files[0])),
                         cv2.COLOR_BGR2RGB)
    assert drawn.shape == (425, 1280, 3)  # ground truth | prediction
    # the GT DensePose point (box centre, part 5) is on the left panel, from
    # the dataset although the sample carried no ground truth
    x0, y0, w, h = BOX
    np.testing.assert_array_equal(drawn[int(y0 + h / 2), int(x0 + w / 2)],
                                  fine_part_palette()[5])
    # the prediction (part 2 over the whole box) is on the right panel
    original = cv2.cvtColor(cv2.imread(str(tmp_path / 'images' / IMG)), cv2.COLOR_BGR2RGB)
    right = drawn[:, 640:].astype(np.int16)
    changed = np.abs(right - original.astype(np.int16)).max(axis=2) > 10
    assert changed[60:350, 290:470].mean() > 0.9 and changed[:, :270].mean() < 0.01


def test_test_mode_writes_to_test_out_dir_and_counts_per_run(tmp_path):
    RecordingVisBackend.calls.clear()
    runner = _runner(tmp_path, 'vis_hook_test', _dataset(tmp_path))
    out_dir = tmp_path / 'show_dir'
    hook = DensePoseVisualizationHook(interval=1, test_out_dir=str(out_dir), draw_gt=False)
    for _ in range(2):  # the count restarts with every test run
        hook.before_test_epoch(runner)
        for i in range(3):
            hook.after_test_iter(runner, i, {}, [_prediction(tmp_path)])
        assert hook.num_drawn['test'] == 3
    assert len(os.listdir(out_dir)) == 3
    assert [c[2] for c in RecordingVisBackend.calls] == [1, 2, 3, 1, 2, 3]
    assert RecordingVisBackend.calls[0][1] == (425, 640, 3)  # no GT panel
    # training iterations go through mmengine's Hook._after_iter untouched
    hook.after_train_iter(runner, 0, {}, dict(loss=torch.tensor(1.0)))
    # draw=False draws nothing
    off = DensePoseVisualizationHook(draw=False, interval=1)
    off.before_test_epoch(runner)
    off.after_test_iter(runner, 0, {}, [_prediction(tmp_path)])
    assert off.num_drawn['test'] == 0


def test_gt_of_the_sample_is_mapped_to_the_original_frame(tmp_path):
    RecordingVisBackend.calls.clear()
    _copy_image(tmp_path)
    runner = _runner(tmp_path, 'vis_hook_sample_gt', None)  # no dataset to load GT from
    sample = _prediction(tmp_path, scale=0.5)
    x0, y0, w, h = BOX
    gt = InstanceData(bboxes=torch.tensor([[x0, y0, x0 + w, y0 + h]]) * 0.5,
                      labels=torch.tensor([0]))
    gt.keypoints = torch.tensor([[[x0 + 10, y0 + 10]] * 17]) * 0.5
    gt.keypoints_visible = torch.ones(1, 17)
    sample.gt_instances = gt
    hook = DensePoseVisualizationHook(interval=1, out_dir=str(tmp_path / 'out'))
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, {}, [sample])
    drawn = cv2.imread(str(tmp_path / 'out' / os.listdir(tmp_path / 'out')[0]))
    original = cv2.imread(str(tmp_path / 'images' / IMG))
    diff = np.abs(drawn[:, :640].astype(np.int16) - original.astype(np.int16)).max(axis=2)
    assert diff[int(y0 + 10), int(x0 + 10)] > 30  # keypoint drawn at its original position
    assert diff[int((y0 + 10) / 2), int((x0 + 10) / 2)] < 30  # not at the resized one


def test_missing_tensorboard_gives_a_clear_message(monkeypatch, tmp_path):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name.startswith('tensorboard') else real(
                            name, *a))
    # the one-line config change: a TensorBoard backend in the visualiser
    with pytest.raises(ImportError, match=r"pip install -e '\.\[tensorboard\]'"):
        DensePoseVisualizer(name='vis_hook_tb', save_dir=str(tmp_path),
                            vis_backends=[dict(type='LocalVisBackend'),
                                          dict(type='TensorboardVisBackend')])
    # any other visualiser is checked by the hook before the run
    plain = Visualizer(name='vis_hook_plain_tb', save_dir=str(tmp_path),
                       vis_backends=[dict(type='TensorboardVisBackend')])
    with pytest.raises(ImportError, match='tensorboard'):
        DensePoseVisualizationHook().before_run(SimpleNamespace(visualizer=plain))
    DensePoseVisualizationHook().before_run(
        SimpleNamespace(visualizer=DensePoseVisualizer(name='vis_hook_no_tb')))
    with pytest.raises(ValueError, match='interval'):
        DensePoseVisualizationHook(interval=0)
