# Copyright (c) mmdensekd contributors. All rights reserved.
from types import SimpleNamespace

import pytest
import torch
from mmengine.structures import InstanceData

from mmdensekd.models.heads import DensePoseChartHead
from mmdensekd.models.heads.densepose_chart_head import decode_charts
from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseChartPredictorOutput, DensePoseTargets
from mmdensekd.utils import register_all_modules


@pytest.fixture(scope='module', autouse=True)
def _register():
    register_all_modules()


def _head(**kwargs):
    return MODELS.build(dict(type='DensePoseChartHead', in_channels=8, **kwargs))


def _gt(has_dp=True):
    points = torch.tensor([[128., 128., 3., 0.5, 0.5], [20., 200., 5., 0.1, 0.9]])
    segm = torch.zeros((1, 256, 256), dtype=torch.uint8)
    segm[0, 32:224, 32:224] = 1
    return InstanceData(bboxes=torch.tensor([[0., 0., 100., 100.]]), labels=torch.tensor([0]),
                        densepose=DensePoseTargets([points if has_dp else torch.zeros(0, 5)],
                                                   segm, torch.tensor([has_dp])))


def _sampling(proposals):
    proposals = torch.tensor(proposals)
    return SimpleNamespace(pos_priors=proposals, priors=proposals,
                           pos_assigned_gt_inds=torch.zeros(len(proposals), dtype=torch.long))


def test_iou_threshold_excludes_069_and_includes_071():
    head = _head()
    # proposals inside the 100x100 GT box: IoU = width / 100
    res = _sampling([[0., 0., 69., 100.], [0., 0., 71., 100.], [0., 0., 70., 100.]])
    t = head.get_targets([res], [_gt()], dict(densepose_iou_thr=0.7))
    assert t['eligible'].tolist() == [False, True, True]
    assert t['gt_bboxes'].tolist() == [[0., 0., 100., 100.]] * 3
    # the threshold comes from the train config
    assert head.get_targets([res], [_gt()], dict(densepose_iou_thr=0.6))['eligible'].all()
    # a GT without DensePose points never makes a RoI eligible
    assert not head.get_targets([res], [_gt(has_dp=False)], None)['eligible'].any()


def test_loss_uses_only_eligible_forwarded_rois():
    torch.manual_seed(0)
    head = _head()
    res = _sampling([[0., 0., 69., 100.], [0., 0., 100., 100.]])
    t = head.get_targets([res], [_gt()], dict(densepose_iou_thr=0.7))
    dp = head(torch.randn(2, 8, 7, 7))
    out = head.loss_and_target(dp, t, torch.tensor([True, True]))
    assert out['num_eligible'] == 1
    ref = head.loss_densepose(dp[1], t['proposals'][1:], t['gt_bboxes'][1:], t['densepose'][1:])
    for key, value in ref.items():
        torch.testing.assert_close(out['loss_densepose'][key], value)
    # nothing eligible: zero losses still in the graph
    empty = head.loss_and_target(dp[:1], t, torch.tensor([True, False]))
    total = sum(empty['loss_densepose'].values())
    assert empty['num_eligible'] == 0 and total.item() == 0 and total.requires_grad


def _constructed_output():
    """One RoI, 4x4 predictor maps: coarse background in row 0, fine part 3
    in columns 0-1 and part 7 in columns 2-3; U of part 3 = 0.2, of part 7 =
    0.8, of background 0.9; V = 0.5 everywhere."""
    coarse = torch.zeros(1, 2, 4, 4)
    coarse[0, 1, 1:] = 5.0
    coarse[0, 0, 0] = 5.0
    fine = torch.zeros(1, 25, 4, 4)
    fine[0, 3, :, :2] = 5.0
    fine[0, 7, :, 2:] = 5.0
    u = torch.full((1, 25, 4, 4), 0.5)
    u[0, 0], u[0, 3], u[0, 7] = 0.9, 0.2, 0.8
    v = torch.full((1, 25, 4, 4), 0.5)
    return DensePoseChartPredictorOutput(coarse, fine, u, v)


def test_decode_charts_at_predictor_resolution():
    labels, uv = decode_charts(_constructed_output())
    assert labels[0].tolist() == [[0, 0, 0, 0], [3, 3, 7, 7], [3, 3, 7, 7], [3, 3, 7, 7]]
    assert uv.shape == (1, 2, 4, 4)
    torch.testing.assert_close(uv[0, 0, 1], torch.tensor([0.2, 0.2, 0.8, 0.8]))
    torch.testing.assert_close(uv[0, 0, 0], torch.full((4, ), 0.9))
    torch.testing.assert_close(uv[0, 1], torch.full((4, 4), 0.5))


def test_fast_decoding_resizes_labels_nearest_and_uv_bilinear():
    head = _head(decoding='fast')
    res = InstanceData(bboxes=torch.tensor([[10., 20., 18., 28.]]))  # 8 x 8 box
    head.predict_by_feat(_constructed_output(), [res])
    labels, uv = res.densepose.labels[0], res.densepose.uv[0]
    assert labels.dtype == torch.uint8 and labels.shape == (8, 8) and uv.shape == (2, 8, 8)
    # labels: every low-res cell becomes a 2x2 block
    assert labels[:2].sum() == 0
    assert labels[2:, :4].unique().tolist() == [3] and labels[2:, 4:].unique().tolist() == [7]
    # U: bilinear (align_corners=False) across the part border, row 5
    torch.testing.assert_close(uv[0, 5], torch.tensor([0.2, 0.2, 0.2, 0.35, 0.65, 0.8, 0.8,
                                                       0.8]))
    torch.testing.assert_close(uv[1], torch.full((8, 8), 0.5))
    # U at the border of background (0.9 decoded in row 0) and parts (row 1)
    torch.testing.assert_close(uv[0, 0, 0], torch.tensor(0.9))
    torch.testing.assert_close(uv[0, 2, 0], torch.tensor(0.9 * 0.25 + 0.2 * 0.75))


def test_predict_by_feat_box_sizes_and_empty_batches():
    head = _head()
    dp = head(torch.randn(3, 8, 7, 7))
    a = InstanceData(bboxes=torch.tensor([[0., 0., 5.5, 9.9], [3., 3., 3.2, 3.2]]))
    b = InstanceData(bboxes=torch.zeros(0, 4))
    c = InstanceData(bboxes=torch.tensor([[1., 2., 41., 22.]]))
    head.predict_by_feat(dp, [a, b, c])
    assert [tuple(x.shape) for x in a.densepose.labels] == [(9, 5), (1, 1)]
    assert len(b.densepose) == 0
    assert tuple(c.densepose.uv[0].shape) == (2, 20, 40)
    d = InstanceData(bboxes=torch.zeros(0, 4))
    head.predict_by_feat(None, [d])
    assert len(d.densepose) == 0


def test_config_errors_and_state_dict():
    with pytest.raises(TypeError, match='loss_densepose'):
        _head(loss_densepose=None)
    head = _head()
    assert isinstance(head, DensePoseChartHead)
    # same parameters as the plain predictor (checkpoints and the converter)
    plain = MODELS.build(dict(type='DensePoseChartPredictor', in_channels=8))
    assert sorted(head.state_dict()) == sorted(plain.state_dict())


def test_predict_by_feat_checks_the_number_of_outputs():
    head = _head()
    res = InstanceData(bboxes=torch.tensor([[0., 0., 4., 4.], [1., 1., 5., 5.]]))
    with pytest.raises(ValueError, match='2 detections but DensePose outputs for 1 boxes'):
        head.predict_by_feat(head(torch.randn(1, 8, 7, 7)), [res])


def test_confidence_head_and_loss_must_agree():
    with pytest.raises(ValueError, match="loss_densepose.uv_confidence=None"):
        _head(uv_confidence='iid_iso')
    head = _head(uv_confidence='indep_aniso', segm_confidence=True,
                 loss_densepose=dict(type='DensePoseChartLoss', uv_confidence='indep_aniso'))
    # predictions carry the variance softplus(raw) + 0.01 at each labelled pixel
    torch.manual_seed(0)
    res = InstanceData(bboxes=torch.tensor([[0., 0., 30., 20.]]))
    dp = head(torch.randn(1, 8, 7, 7))
    head.predict_by_feat(dp, [res])
    charts = res.densepose
    assert sorted(charts.confidences) == ['coarse_segm_confidence', 'fine_segm_confidence',
                                          'kappa_u', 'kappa_v', 'sigma_2']
    labels, var = charts.labels[0], charts.confidence('sigma_2', 0)
    assert var.shape == (20, 30)
    assert (labels > 0).any() and (labels == 0).any()
    assert (var[labels > 0] >= 0.01).all() and (var[labels == 0] == 0).all()
