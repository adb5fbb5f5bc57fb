# Copyright (c) mmdensekd contributors. All rights reserved.
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData, PixelData

from mmdensekd.models.heads.keypoint_rcnn_head import KeypointRCNNHead
from mmdensekd.registry import MODELS, POSE_MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TOPDOWN_CFG = osp.join(REPO, 'configs/topdown/td-kprcnn_res18_1xb4-2e_coco-tiny-64x48.py')


def _tiny_head(**kwargs):
    cfg = dict(in_channels=8, num_convs=2, conv_channels=16, num_keypoints=3)
    cfg.update(kwargs)
    return KeypointRCNNHead(**cfg)


def test_forward_shapes_and_defaults():
    torch.manual_seed(0)
    head = _tiny_head()
    x = torch.randn(2, 8, 14, 14)
    feats = head.forward_features(x)
    assert feats.shape == (2, 16, 14, 14)
    heatmaps = head.forward_predictor(feats)
    assert heatmaps.shape == (2, 3, 56, 56)
    torch.testing.assert_close(head(x), heatmaps)
    torch.testing.assert_close(head((x * 0, x)), heatmaps)  # last feature map used
    default = KeypointRCNNHead()
    convs = [m for m in default.convs if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 8 and convs[0].in_channels == 256 and convs[-1].out_channels == 512
    assert default.deconv.out_channels == 17 and default.deconv.stride == (2, 2)


def test_build_from_registries_and_mmdet_scope():
    # Registries resolve names in the current default scope, which other
    # tests (register_all_modules) may have set to 'mmdet': pin it.
    with DefaultScope.overwrite_default_scope('mmpose'):
        head = POSE_MODELS.build(dict(type='KeypointRCNNHead', in_channels=8, num_convs=1,
                                      conv_channels=8, num_keypoints=2))
    assert isinstance(head, KeypointRCNNHead)
    # an mmdet-scoped config names it 'mmpose.KeypointRCNNHead'; its coder
    # (mmdet TASK_UTILS) and loss (mmpose names) must still resolve
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(dict(type='mmpose.KeypointRCNNHead', in_channels=8, num_convs=1,
                                 conv_channels=8, num_keypoints=2,
                                 coder=dict(type='RCNNKeypointCoder', use_dark=True)))
    assert isinstance(head, KeypointRCNNHead) and head.coder.use_dark
    with DefaultScope.overwrite_default_scope('mmpose'):
        head = POSE_MODELS.build(dict(type='KeypointRCNNHead', in_channels=8, num_convs=1,
                                      conv_channels=8, num_keypoints=2,
                                      coder=dict(type='RCNNKeypointCoder', use_udp=True)))
    assert head.coder.use_udp


def test_config_validation():
    with pytest.raises(ValueError, match='num_keypoints'):
        _tiny_head(num_keypoints=0)
    with pytest.raises(KeyError, match='MSRAHeatmap'):
        _tiny_head(coder=dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16),
                              sigma=2))
    with pytest.raises(TypeError, match='coder'):
        _tiny_head(coder='RCNNKeypointCoder')
    with pytest.raises(ValueError, match='renamed `coder`'):
        _tiny_head(codec=dict(type='RCNNKeypointCodec'))


def _roi_case():
    rois = torch.tensor([[0., 0., 56., 56.], [10., 10., 122., 66.]])
    kpts = torch.tensor([[[5.5, 7.5], [20., 30.], [70., 10.]],
                         [[10., 10.], [60., 30.], [100., 60.]]])
    visible = torch.tensor([[1., 0., 1.], [1., 1., 1.]])
    return rois, kpts, visible


def _targets(head, rois, kpts, visible):
    """``get_targets`` of one image whose positives are ``rois``, RoI i
    matched to GT instance i."""
    from types import SimpleNamespace
    res = SimpleNamespace(pos_priors=rois, pos_assigned_gt_inds=torch.arange(len(rois)))
    gt = InstanceData(keypoints=kpts, keypoints_visible=visible)
    return head.get_targets([res], [gt])


def _roi_loss(head, heatmaps, rois, kpts, visible):
    targets = _targets(head, rois, kpts, visible)
    forwarded = torch.ones(len(rois), dtype=torch.bool)
    if not bool(targets['eligible'].any()):
        return head.loss_and_target(heatmaps, targets, forwarded)
    return head.loss_by_feat(heatmaps, targets['labels'], targets['weights'])


def test_roi_loss_is_mean_ce_over_visible_keypoints():
    torch.manual_seed(0)
    head = _tiny_head()
    rois, kpts, visible = _roi_case()
    logits = torch.randn(2, 3, 56, 56)
    loss = _roi_loss(head, logits, rois, kpts, visible)['loss_keypoint']
    # valid: (0,0) cell (7,5); (0,1) invisible; (0,2) outside roi 0; roi 1
    # scales x by 0.5: (1,0) cell (0,0), (1,1) (25,20), (1,2) (45,50)
    targets = {(0, 0): 7 * 56 + 5, (1, 0): 0, (1, 1): 20 * 56 + 25, (1, 2): 50 * 56 + 45}
    expected = sum(
        F.cross_entropy(logits[i, k].reshape(1, -1), torch.tensor([t]))
        for (i, k), t in targets.items()) / len(targets)
    torch.testing.assert_close(loss, expected)
    # logits of invisible / outside keypoints do not matter
    logits2 = logits.clone()
    logits2[0, 1] += torch.randn(56, 56) * 10
    logits2[0, 2] += torch.randn(56, 56) * 10
    torch.testing.assert_close(_roi_loss(head, logits2, rois, kpts, visible)['loss_keypoint'],
                               loss)
    # the registered loss's loss_weight scales it (the deprecated head
    # shortcut sets the same), and the weight is set once
    for head in (_tiny_head(loss_keypoint=dict(type='KeypointCELoss', loss_weight=0.3)),
                 _tiny_head(loss_keypoint=dict(loss_weight=0.3)), _tiny_head(loss_weight=0.3)):
        weighted = _roi_loss(head, logits, rois, kpts, visible)
        torch.testing.assert_close(weighted['loss_keypoint'], loss * 0.3)
        assert head.loss_keypoint.loss_weight == 0.3
    with pytest.raises(ValueError, match='weighted once'):
        _tiny_head(loss_keypoint=dict(loss_weight=0.3), loss_weight=0.3)


def test_roi_loss_without_visible_keypoints_is_zero_in_graph():
    head = _tiny_head()
    x = torch.randn(2, 8, 14, 14)
    heatmaps = head(x)
    rois, kpts, _ = _roi_case()
    loss = _roi_loss(head, heatmaps, rois, kpts, torch.zeros(2, 3))['loss_keypoint']
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert head.deconv.weight.grad is not None
    assert float(head.deconv.weight.grad.abs().sum()) == 0.0
    empty = _roi_loss(head, head(torch.randn(0, 8, 14, 14)), torch.zeros(0, 4),
                      torch.zeros(0, 3, 2), torch.zeros(0, 3))['loss_keypoint']
    assert empty.item() == 0.0 and empty.requires_grad


def test_has_visible_keypoints_and_size_check():
    head = _tiny_head()
    rois, kpts, visible = _roi_case()
    visible[1] = 0
    assert _targets(head, rois, kpts, visible)['eligible'].tolist() == [True, False]
    with pytest.raises(ValueError, match='coder.heatmap_size'):
        _roi_loss(head, torch.zeros(2, 3, 28, 28), rois, kpts, visible)


def test_roi_predict_decodes_into_the_box():
    head = _tiny_head()
    rois, kpts, visible = _roi_case()
    labels = _targets(head, rois, kpts, torch.ones(2, 3))['labels']
    logits = torch.zeros(2, 3, 56 * 56).scatter_(2, labels[..., None], 8.0).view(2, 3, 56, 56)
    # the chart head's contract: outputs of all boxes of the batch, the
    # results per image updated in place (an image without detection too)
    from mmengine.structures import InstanceData
    results = [InstanceData(bboxes=rois[:1]), InstanceData(bboxes=rois[:0]),
               InstanceData(bboxes=rois[1:])]
    metas = [dict(scale_factor=(1.0, 1.0)), dict(scale_factor=(2.0, 2.0)),
             dict(scale_factor=(1.0, 1.0))]
    out = head.predict_by_feat(logits, results, metas)
    assert out is results
    pts = torch.cat([results[0].keypoints, results[2].keypoints])
    assert pts.shape == (2, 3, 2) and results[2].keypoint_scores.shape == (1, 3)
    assert results[1].keypoints.shape == (0, 3, 2)
    # inside-box GT keypoints come back within one cell
    inside = torch.tensor([[True, True, False], [True, True, True]])
    cell = torch.tensor([[1., 1.], [2., 1.]])
    assert float(((pts - kpts).abs() / cell[:, None])[inside].max()) <= 1.0
    # rescale divides by each image's scale_factor (boxes unchanged)
    scaled = [InstanceData(bboxes=rois[:1])]
    head.predict_by_feat(logits[:1], scaled, [dict(scale_factor=(2.0, 4.0))], rescale=True)
    torch.testing.assert_close(scaled[0].keypoints * torch.tensor([2.0, 4.0]), pts[:1])
    with pytest.raises(ValueError, match='1 detections but keypoint heatmaps for 2'):
        head.predict_by_feat(logits, [InstanceData(bboxes=rois[:1])])


def _fake_topdown_batch(num=2, seed=0):
    from mmpose.structures import PoseDataSample
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(num):
        s = PoseDataSample(metainfo=dict(
            input_size=(48, 64), input_center=np.array([[100., 80.]]),
            input_scale=np.array([[60., 80.]]), flip_indices=list(range(17))))
        s.gt_fields = PixelData(heatmaps=torch.from_numpy(rng.random((17, 16, 12))).float())
        s.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 17))
        s.gt_instances = InstanceData(bboxes=np.array([[70., 40., 130., 120.]]),
                                      bbox_scores=np.ones(1))
        samples.append(s)
    return torch.randint(0, 255, (num, 3, 64, 48), dtype=torch.uint8).float(), samples


def test_topdown_config_builds_and_runs_loss_and_predict():
    cfg = Config.fromfile(TOPDOWN_CFG)
    assert cfg.default_scope == 'mmpose'
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = POSE_MODELS.build(cfg.model)
    assert isinstance(model.head, KeypointRCNNHead)
    torch.manual_seed(0)
    inputs, samples = _fake_topdown_batch()
    model.train()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert losses['loss_kpt'].ndim == 0 and float(losses['loss_kpt']) > 0
    losses['loss_kpt'].backward()
    assert model.head.deconv.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert len(results) == 2
    pred = results[0].pred_instances
    assert pred.keypoints.shape == (1, 17, 2) and pred.keypoint_scores.shape == (1, 17)
    # decoded into the original image frame: inside the 60x80 input region
    # (mmpose marks keypoints with a non-positive maximum as -1)
    ok = pred.keypoint_scores[0] > 0
    assert ok.sum() > 0
    xs, ys = pred.keypoints[0, ok, 0], pred.keypoints[0, ok, 1]
    assert np.all(xs >= 70 - 1e-3) and np.all(xs <= 130 + 1e-3)
    assert np.all(ys >= 40 - 1e-3) and np.all(ys <= 120 + 1e-3)


def test_topdown_heatmap_size_mismatch_is_explained():
    head = _tiny_head(num_keypoints=17, in_channels=8)
    _, samples = _fake_topdown_batch()
    feats = (torch.randn(2, 8, 5, 3), )  # -> 20x12, codec says 16x12
    with pytest.raises(ValueError, match='heatmap size'):
        head.loss(feats, samples)


KEYPOINT_CONFIGS = osp.join(REPO, 'configs/keypoint_rcnn')


@pytest.mark.parametrize('name,with_dp,with_refine', [
    ('keypoint-rcnn_tiny_cpu_coco-tiny.py', False, False),
    ('densepose-keypoint-rcnn_refine-sum_tiny_cpu_densepose-coco-tiny.py', True, True),
])
def test_tiny_keypoint_configs_train_and_predict(name, with_dp, with_refine):
    from mmdet.structures import DetDataSample

    from mmdensekd.structures import DensePoseTargets
    from mmdensekd.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(osp.join(KEYPOINT_CONFIGS, name))
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    roi_head = model.roi_head
    assert roi_head.with_keypoint and isinstance(roi_head.keypoint_head, KeypointRCNNHead)
    assert (roi_head.with_densepose, roi_head.with_refine) == (with_dp, with_refine)

    torch.manual_seed(0)
    img = torch.randint(0, 255, (3, 128, 160), dtype=torch.uint8)
    sample = DetDataSample(metainfo=dict(img_id=1, img_shape=(128, 160), ori_shape=(128, 160),
                                         scale_factor=(1., 1.)))
    kpts = torch.stack([torch.linspace(30, 90, 17), torch.linspace(20, 110, 17)], dim=-1)
    gt = InstanceData(bboxes=torch.tensor([[20., 10., 100., 120.]]), labels=torch.tensor([0]),
                      keypoints=kpts[None], keypoints_visible=torch.ones(1, 17))
    if with_dp:
        gt.densepose = DensePoseTargets.empty(1)
    sample.gt_instances = gt
    data = model.data_preprocessor(dict(inputs=[img], data_samples=[sample]), True)
    model.train()
    losses = model(**data, mode='loss')
    # the GT box joins the proposals, so the keypoint branch has targets
    assert float(losses['loss_keypoint']) > 0 and torch.isfinite(losses['loss_keypoint'])
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert roi_head.keypoint_head.deconv.weight.grad.abs().sum() > 0
    if with_refine:
        assert roi_head.refine_head.kpt_refine[0].weight.grad.abs().sum() > 0

    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(dict(inputs=[img], data_samples=[sample])),
                        mode='predict')
    pred = results[0].pred_instances
    assert pred.keypoints.shape == (len(pred), 17, 2)
    assert pred.keypoint_scores.shape == (len(pred), 17)
