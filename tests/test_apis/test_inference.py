# Copyright (c) mmdensekd contributors. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config

from mmdensekd.apis import inference_model, init_model
from mmdensekd.structures import DensePoseChartResults

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                  'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
DEMO_IMG = osp.join(ROOT, 'demo', 'resources', 'demo_im.jpg')
OPTIONS = {'model.test_cfg.rcnn.score_thr': 0.0, 'model.test_cfg.rcnn.max_per_img': 5}


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A random tiny model saved as a plain state dict."""
    torch.manual_seed(0)
    model = init_model(CONFIG)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_random.pth'
    torch.save(model.state_dict(), path)
    return str(path), model.state_dict()


@pytest.fixture(scope='module')
def model(checkpoint):
    return init_model(CONFIG, checkpoint[0], cfg_options=OPTIONS)


def test_init_model_loads_local_checkpoint(model, checkpoint):
    saved = checkpoint[1]
    loaded = model.state_dict()
    assert loaded.keys() == saved.keys()
    for key in ('backbone.conv1.weight', 'roi_head.densepose_predictor.u_lowres.weight'):
        torch.testing.assert_close(loaded[key], saved[key])
    assert isinstance(model.cfg, Config)
    assert model.cfg.model.test_cfg.rcnn.max_per_img == 5  # cfg_options merged
    assert model.dataset_meta['classes'] == ('person', )
    assert not model.training


def test_init_model_missing_checkpoint_names_it(tmp_path):
    missing = str(tmp_path / 'no_such_weights.pth')
    with pytest.raises(FileNotFoundError, match='no_such_weights.pth'):
        init_model(CONFIG, missing)
    with pytest.raises(FileNotFoundError, match='missing_config.py'):
        init_model(str(tmp_path / 'missing_config.py'))


def _check_result(result: DetDataSample, ori_shape):
    assert isinstance(result, DetDataSample)
    assert tuple(result.metainfo['ori_shape']) == ori_shape
    pred = result.pred_instances
    num = len(pred)
    assert 0 < num <= 5
    assert pred.bboxes.shape == (num, 4) and pred.scores.shape == (num, )
    assert isinstance(pred.densepose, DensePoseChartResults) and len(pred.densepose) == num
    height, width = ori_shape
    assert float(pred.bboxes[:, 2].max()) <= width + 1
    assert float(pred.bboxes[:, 3].max()) <= height + 1
    for box, labels, uv in zip(pred.bboxes, pred.densepose.labels, pred.densepose.uv):
        h = max(int(box[3] - box[1]), 1)
        w = max(int(box[2] - box[0]), 1)
        assert tuple(labels.shape) == (h, w) and tuple(uv.shape) == (2, h, w)
        assert labels.dtype == torch.uint8 and int(labels.max()) <= 24
        # detectron2's decoding: U/V unclamped, zero on the background
        assert torch.isfinite(uv).all() and (uv[:, labels == 0] == 0).all()


def test_inference_on_path_and_array_agree(model):
    from_path = inference_model(model, DEMO_IMG)
    _check_result(from_path, (600, 1116))
    assert from_path.metainfo['img_path'] == DEMO_IMG
    img = cv2.imread(DEMO_IMG)
    from_array = inference_model(model, [img])
    assert isinstance(from_array, list) and len(from_array) == 1
    _check_result(from_array[0], (600, 1116))
    torch.testing.assert_close(from_array[0].pred_instances.bboxes,
                               from_path.pred_instances.bboxes)


def test_inference_bad_inputs(model, tmp_path):
    with pytest.raises(ValueError, match=r'image 0: expected a non-empty \(H, W, 3\)'):
        inference_model(model, np.zeros((10, 10), np.uint8))
    with pytest.raises(FileNotFoundError, match='absent.jpg'):
        inference_model(model, str(tmp_path / 'absent.jpg'))
    with pytest.raises(ValueError, match='model.cfg is not set'):
        inference_model(torch.nn.Linear(1, 1), DEMO_IMG)
    assert inference_model(model, []) == []


def test_init_model_refuses_a_checkpoint_of_another_model(tmp_path):
    """A Keypoint R-CNN checkpoint in a DensePose R-CNN: an error naming keys;
    ``allow_partial`` loads the weights that fit."""
    from mmdensekd.utils.checkpoint_compat import CheckpointMismatchError
    root = osp.join(osp.dirname(__file__), '..', '..', 'configs')
    kpt_cfg = osp.join(root, 'keypoint_rcnn', 'keypoint-rcnn_tiny_cpu_coco-tiny.py')
    dp_cfg = osp.join(root, 'densepose_rcnn', 'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
    torch.manual_seed(0)
    kpt = init_model(kpt_cfg)
    ckpt = str(tmp_path / 'kpt.pth')
    torch.save(dict(state_dict=kpt.state_dict()), ckpt)
    with pytest.raises(CheckpointMismatchError, match=r'kpt\.pth does not fit .*roi_head\.'):
        init_model(dp_cfg, ckpt)
    model = init_model(dp_cfg, ckpt, allow_partial=True)
    own, src = model.state_dict(), kpt.state_dict()
    fit = [k for k in own if k in src and own[k].shape == src[k].shape]
    assert fit and len(fit) < len(own)
    for key in fit:
        torch.testing.assert_close(own[key], src[key])
