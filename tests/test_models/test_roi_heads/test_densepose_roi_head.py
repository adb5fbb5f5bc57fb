# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseChartResults, DensePoseTargets
from mmdensekd.utils import register_all_modules

C = 16


def _roi_head_cfg(**overrides):
    cfg = dict(
        type='DensePoseRoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                                out_channels=C, featmap_strides=[4, 8]),
        bbox_head=dict(type='Shared2FCBBoxHead', in_channels=C, fc_out_channels=32,
                       roi_feat_size=7, num_classes=1,
                       bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                                       target_stds=[0.1, 0.1, 0.2, 0.2]),
                       loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False),
                       loss_bbox=dict(type='L1Loss')),
        densepose_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=8, sampling_ratio=2, aligned=True),
            out_channels=C, featmap_strides=[4, 8]),
        densepose_head=dict(type='DensePoseV1ConvXHead', in_channels=C, num_convs=2,
                            conv_channels=C),
        densepose_predictor=dict(type='DensePoseChartHead', in_channels=C,
                                 loss_densepose=dict(type='DensePoseChartLoss')),
        train_cfg=ConfigDict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=32, pos_fraction=0.25, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            pos_weight=-1, densepose_iou_thr=0.7, debug=False),
        test_cfg=ConfigDict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5),
                            max_per_img=5))
    cfg.update(overrides)
    return cfg


def _sample(has_dp: bool) -> DetDataSample:
    torch.manual_seed(0)
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(128, 128),
                                         scale_factor=(0.5, 0.5), batch_input_shape=(64, 64)))
    gt = InstanceData()
    gt.bboxes = torch.tensor([[8., 8., 40., 56.]])
    gt.labels = torch.tensor([0])
    gt.keypoints = torch.rand(1, 17, 2) * 30 + 10
    gt.keypoints_visible = torch.ones(1, 17)
    points = torch.cat([torch.rand(20, 2) * 255, torch.randint(1, 25, (20, 1)).float(),
                        torch.rand(20, 2)], dim=1)
    segm = torch.zeros((1, 256, 256), dtype=torch.uint8)
    segm[0, 64:192, 64:192] = 1
    gt.densepose = DensePoseTargets([points if has_dp else torch.zeros(0, 5)], segm,
                                    torch.tensor([has_dp]))
    sample.gt_instances = gt
    sample.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0))
    return sample


def _proposals():
    return InstanceData(bboxes=torch.tensor([[8., 8., 40., 56.], [9., 9., 41., 55.],
                                             [0., 0., 20., 20.], [30., 30., 60., 60.]]),
                        scores=torch.ones(4))


def _feats():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(1, C, 16, 16, generator=g), torch.randn(1, C, 8, 8, generator=g))


@pytest.fixture(scope='module', autouse=True)
def _register():
    register_all_modules()


def test_loss_with_densepose_gt():
    head = MODELS.build(_roi_head_cfg())
    losses = head.loss(_feats(), [_proposals()], [_sample(True)])
    for key in ('loss_cls', 'loss_bbox', 'loss_densepose_I', 'loss_densepose_U',
                'loss_densepose_V', 'loss_densepose_S'):
        assert key in losses
    assert losses['loss_densepose_I'].item() > 0
    assert losses['loss_densepose_S'].item() > 0


def test_batch_without_densepose_gt_gives_zero_connected_losses():
    head = MODELS.build(_roi_head_cfg())
    losses = head.loss(_feats(), [_proposals()], [_sample(False)])
    dp = [v for k, v in losses.items() if k.startswith('loss_densepose')]
    assert len(dp) == 4
    total = sum(dp)
    assert total.item() == 0 and total.requires_grad
    total.backward()
    grads = [p.grad for p in head.densepose_head.parameters()]
    assert all(g is not None for g in grads)
    assert all(torch.all(g == 0) for g in grads)


def test_predict_charts_in_original_frame():
    head = MODELS.build(_roi_head_cfg()).eval()
    sample = _sample(True)
    with torch.no_grad():
        results = head.predict(_feats(), [_proposals()], [sample], rescale=True)
    res = results[0]
    assert isinstance(res.densepose, DensePoseChartResults)
    assert len(res.densepose) == len(res.bboxes) > 0
    # Boxes are rescaled to the original (2x) image and charts follow them.
    assert res.bboxes[:, 2:].max() > 64
    for box, labels, uv in zip(res.bboxes, res.densepose.labels, res.densepose.uv):
        h, w = max(int(box[3] - box[1]), 1), max(int(box[2] - box[0]), 1)
        assert labels.shape == (h, w) and labels.dtype == torch.uint8
        assert uv.shape == (2, h, w)
        # detectron2's decoding: U/V unclamped, zero on the background
        assert labels.max() <= 24 and torch.isfinite(uv).all()
        assert (uv[:, labels == 0] == 0).all()


def test_refine_needs_both_branches():
    with pytest.raises(ValueError, match='refine_head needs both'):
        MODELS.build(_roi_head_cfg(refine_head=dict(type='DensePoseKeypointRefineHead')))


def test_missing_densepose_component_is_named():
    with pytest.raises(ValueError, match='densepose_predictor'):
        MODELS.build(_roi_head_cfg(densepose_predictor=None))
    # the loss moved into the chart head: the old key is an error naming it
    with pytest.raises(ValueError, match='densepose_predictor.loss_densepose'):
        MODELS.build(_roi_head_cfg(densepose_loss=dict(type='DensePoseChartLoss')))
    with pytest.raises(TypeError, match='chart head'):
        MODELS.build(_roi_head_cfg(densepose_predictor=dict(type='DensePoseChartPredictor',
                                                            in_channels=C)))


def _keypoint_cfg(fuse=None, dp_weight=1.0, kpt_weight=1.0):
    extra = dict(
        densepose_predictor=dict(type='DensePoseChartHead', in_channels=C,
                                 loss_densepose=dict(type='DensePoseChartLoss',
                                                     loss_weight=dp_weight)),
        keypoint_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=2, aligned=True),
            out_channels=C, featmap_strides=[4, 8]),
        keypoint_head=dict(type='mmpose.KeypointRCNNHead', in_channels=C, num_convs=2,
                           conv_channels=C, loss_weight=kpt_weight))
    if fuse is not None:
        extra['refine_head'] = dict(type='DensePoseKeypointRefineHead', dp_channels=C,
                                    kpt_channels=C, fuse=fuse)
    return _roi_head_cfg(**extra)


@pytest.mark.parametrize('fuse', [None, 'sum', 'concat'])
def test_keypoint_and_refine_branches(fuse):
    torch.manual_seed(0)
    head = MODELS.build(_keypoint_cfg(fuse))
    assert head.with_keypoint and head.with_densepose and head.with_refine == (fuse is not None)
    losses = head.loss(_feats(), [_proposals()], [_sample(True)])
    assert losses['loss_keypoint'].item() > 0 and losses['loss_densepose_I'].item() > 0

    head.eval()
    with torch.no_grad():
        res = head.predict(_feats(), [_proposals()], [_sample(True)], rescale=True)[0]
    n = len(res.bboxes)
    assert res.keypoints.shape == (n, 17, 2) and res.keypoint_scores.shape == (n, 17)
    assert len(res.densepose) == n
    # Keypoints are decoded inside their (rescaled) boxes.
    assert torch.all(res.keypoints[..., 0] >= res.bboxes[:, None, 0] - 1e-3)
    assert torch.all(res.keypoints[..., 0] <= res.bboxes[:, None, 2] + 1e-3)


def test_refine_paper_weights_come_from_the_branch_losses():
    """0.6 / 0.3 set in the branch losses scale those losses once."""
    torch.manual_seed(0)
    weighted = MODELS.build(_keypoint_cfg('sum', dp_weight=0.6, kpt_weight=0.3))
    raw = MODELS.build(_keypoint_cfg('sum'))
    raw.load_state_dict(weighted.state_dict())
    torch.manual_seed(3)
    w = weighted.loss(_feats(), [_proposals()], [_sample(True)])
    torch.manual_seed(3)
    r = raw.loss(_feats(), [_proposals()], [_sample(True)])
    for key in ('loss_densepose_I', 'loss_densepose_U', 'loss_densepose_V', 'loss_densepose_S'):
        assert w[key].item() == pytest.approx(0.6 * r[key].item(), rel=1e-5), key
    assert w['loss_keypoint'].item() == pytest.approx(0.3 * r['loss_keypoint'].item(), rel=1e-5)
    assert w['loss_cls'].item() == pytest.approx(r['loss_cls'].item(), rel=1e-6)


@pytest.mark.parametrize('key', ['dp_loss_weight', 'kpt_loss_weight'])
def test_weight_set_twice_is_an_error(key):
    cfg = _keypoint_cfg('sum', dp_weight=0.6, kpt_weight=0.3)
    cfg['refine_head'][key] = 0.6
    with pytest.raises(ValueError, match=f'refine_head.{key} was removed'):
        MODELS.build(cfg)


def test_tensor_forward_returns_branch_outputs():
    head = MODELS.build(_keypoint_cfg('concat')).eval()
    with torch.no_grad():
        out = head.forward(_feats(), [_proposals()])
    # cls, bbox, then coarse/fine/U/V charts and keypoint heatmaps per RoI.
    assert [tuple(t.shape) for t in out[2:]] == [(4, 2, 32, 32), (4, 25, 32, 32),
                                                 (4, 25, 32, 32), (4, 25, 32, 32),
                                                 (4, 17, 56, 56)]


def _two_person_case():
    """GT 0 has DensePose and no visible keypoint, GT 1 has both. Positive 0
    is GT 0's box (IoU 1); positive 1 overlaps GT 1 with IoU 0.6 (a box
    positive, not DensePose-eligible) and holds GT 1's visible keypoints."""
    from types import SimpleNamespace
    g = torch.Generator().manual_seed(5)

    def points(n):
        return torch.cat([torch.rand(n, 2, generator=g) * 255,
                          torch.randint(1, 25, (n, 1), generator=g).float(),
                          torch.rand(n, 2, generator=g)], dim=1)

    segms = torch.zeros((2, 256, 256), dtype=torch.uint8)
    segms[:, 50:200, 60:180] = 1
    kpts = torch.zeros(2, 17, 2)
    kpts[1, :, 0] = torch.linspace(15, 55, 17)
    kpts[1, :, 1] = torch.linspace(12, 38, 17)
    gt = InstanceData(bboxes=torch.tensor([[0., 0., 40., 40.], [10., 10., 60., 60.]]),
                      labels=torch.tensor([0, 0]), keypoints=kpts,
                      keypoints_visible=torch.tensor([[0.] * 17, [1.] * 17]),
                      densepose=DensePoseTargets([points(40), points(40)], segms,
                                                 torch.tensor([True, True])))
    pos = torch.tensor([[0., 0., 40., 40.], [10., 10., 60., 40.]])
    res = SimpleNamespace(pos_priors=pos, priors=pos, pos_assigned_gt_inds=torch.tensor([0, 1]))
    return [res], [gt]


@pytest.mark.parametrize('fuse', [None, 'sum'])
def test_each_branch_trains_only_on_its_own_eligible_rois(fuse):
    from mmdet.structures.bbox import bbox2roi
    torch.manual_seed(0)
    head = MODELS.build(_keypoint_cfg(fuse))
    sampling, gts = _two_person_case()
    dp_t = head.densepose_predictor.get_targets(sampling, gts, head.train_cfg)
    kpt_t = head.keypoint_head.get_targets(sampling, gts)
    assert dp_t['eligible'].tolist() == [True, False]
    assert kpt_t['eligible'].tolist() == [False, True]
    losses = head.branch_losses(_feats(), sampling, gts)

    # with refinement both branches run on the union of the two RoIs; without,
    # each branch runs on its own RoI only: the outputs per RoI are the same
    out = head._branch_forward(_feats(), bbox2roi([sampling[0].pos_priors]))
    dp_ref = head.densepose_predictor.loss_densepose(
        out['dp_output'][[0]], dp_t['proposals'][[0]], dp_t['gt_bboxes'][[0]],
        dp_t['densepose'][[0]])
    kpt_ref = head.keypoint_head.loss_by_feat(out['kpt_heatmaps'][[1]], kpt_t['labels'][[1]],
                                              kpt_t['weights'][[1]])
    for key, value in {**dp_ref, **kpt_ref}.items():
        torch.testing.assert_close(losses[key], value, rtol=1e-5, atol=1e-6)
    # training DensePose on the union would change its loss (RoI 1 holds points)
    union = head.densepose_predictor.loss_densepose(
        out['dp_output'], dp_t['proposals'], dp_t['gt_bboxes'], dp_t['densepose'])
    assert abs(union['loss_densepose_I'].item() - losses['loss_densepose_I'].item()) > 1e-4


def test_keypoints_decoded_in_network_frame_then_scaled():
    """detectron2 decodes heatmaps on the boxes the RoI head saw and scales
    the keypoints afterwards; decoding on the rescaled boxes differs."""
    head = MODELS.build(_keypoint_cfg()).eval()
    coder = head.keypoint_head.coder
    boxes = torch.tensor([[10., 12., 30.6, 40.2]])
    scale = torch.tensor([0.5, 0.4])
    flat = torch.zeros(1, 17, 56, 56)
    g = torch.Generator().manual_seed(0)
    peaky = torch.zeros(1, 17, 56 * 56).scatter_(
        2, torch.randint(0, 56 * 56, (1, 17, 1), generator=g), 12.0).view(1, 17, 56, 56)
    for name, heatmaps in (('flat', flat), ('peaky', peaky)):
        res = InstanceData(bboxes=boxes.clone())
        head.predict_keypoint(None, [dict(scale_factor=(0.5, 0.4))], [res],
                              branch_outputs=dict(kpt_heatmaps=heatmaps), rescale=True)
        expected = coder.decode(heatmaps, boxes)[0] / scale
        torch.testing.assert_close(res.keypoints, expected)
        torch.testing.assert_close(res.bboxes, boxes)  # predict() rescales the boxes
        in_original_frame = coder.decode(heatmaps, boxes / scale.repeat(2))[0]
        gap = (in_original_frame - res.keypoints).abs().max().item()
        if name == 'flat':
            assert gap > 0.4, gap


def test_predict_keypoints_scale_with_the_image():
    torch.manual_seed(0)
    head = MODELS.build(_keypoint_cfg()).eval()
    sample = _sample(True)
    sample.set_metainfo(dict(scale_factor=(0.5, 0.4)))
    with torch.no_grad():
        net = head.predict(_feats(), [_proposals()], [sample], rescale=False)[0]
        orig = head.predict(_feats(), [_proposals()], [sample], rescale=True)[0]
    assert len(net) == len(orig) > 0
    torch.testing.assert_close(orig.keypoints, net.keypoints / torch.tensor([0.5, 0.4]))
    torch.testing.assert_close(orig.bboxes, net.bboxes / torch.tensor([0.5, 0.4, 0.5, 0.4]))
    # charts follow the rescaled boxes
    for box, labels in zip(orig.bboxes, orig.densepose.labels):
        assert labels.shape == (max(int(box[3] - box[1]), 1), max(int(box[2] - box[0]), 1))
