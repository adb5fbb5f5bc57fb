# Copyright (c) mmdensekd contributors. All rights reserved.
"""Distillation losses checked against values computed by hand."""
import math

import pytest
import torch

from mmdensekd.models.losses import (
    DensePoseKLLoss,
    DensePoseUVLoss,
    FeatureMSELoss,
    HeatmapDistillLoss,
)
from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseChartPredictorOutput


def test_feature_mse_sum_over_levels_and_resize():
    s1 = torch.zeros(1, 1, 2, 2, requires_grad=True)
    t1 = torch.full((1, 1, 2, 2), 2.0)  # MSE 4
    s2 = torch.ones(1, 1, 2, 2, requires_grad=True)
    t2 = torch.full((1, 1, 4, 4), 3.0)  # constant map: resize keeps 3 -> MSE 4
    loss = FeatureMSELoss(loss_weight=0.5)([s1, s2], [t1, t2])
    assert loss.item() == pytest.approx(0.5 * (4 + 4))
    loss.backward()
    # d/ds mean((s - t)^2) = 2 (s - t) / 4
    torch.testing.assert_close(s1.grad, torch.full((1, 1, 2, 2), 0.5 * 2 * -2.0 / 4))
    # bilinear resize of a non-constant map: 1x2 -> 1x4 gives [a, .75a+.25b, .25a+.75b, b]
    t = torch.tensor([[[[0.0, 4.0]]]])
    s = torch.tensor([[[[0.0, 1.0, 3.0, 4.0]]]])
    assert FeatureMSELoss()(s, t).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match='channels'):
        FeatureMSELoss()(torch.zeros(1, 2, 2, 2), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match='2 student levels but 1'):
        FeatureMSELoss()([s1, s2], [t1])


def test_densepose_kl_by_hand():
    # one RoI, one pixel, two classes: teacher p=(.5,.5), student logits (0, log 3) -> q=(.25,.75)
    s = torch.tensor([0.0, math.log(3.0)]).view(1, 2, 1, 1)
    t = torch.zeros(1, 2, 1, 1)
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert DensePoseKLLoss()(s, t).item() == pytest.approx(expected, rel=1e-5)
    # temperature 2: logits halved, times T^2
    q = torch.tensor([0.0, math.log(3.0) / 2]).softmax(0)
    expected_t2 = 4 * float((0.5 * (0.5 / q).log()).sum())
    assert DensePoseKLLoss(temperature=2.0)(s, t).item() == pytest.approx(expected_t2, rel=1e-5)
    # identical distributions -> 0; chart outputs use fine_segm
    fine = torch.randn(2, 25, 3, 3)
    chart = DensePoseChartPredictorOutput(torch.randn(2, 2, 3, 3), fine, fine, fine)
    assert DensePoseKLLoss(loss_weight=3.0)(chart, chart).item() == pytest.approx(0, abs=1e-6)
    empty = torch.zeros(0, 25, 3, 3, requires_grad=True)
    zero = DensePoseKLLoss()(empty, empty.detach())
    assert zero.item() == 0 and zero.requires_grad


def _chart(fine, u, v, coarse):
    return DensePoseChartPredictorOutput(coarse, fine, u, v)


def test_densepose_uv_selects_teacher_confident_pixels():
    # 1 RoI, 1x2 pixels; pixel 0: confident fg, part 3; pixel 1: background
    coarse = torch.tensor([[-10.0, -10.0], [10.0, -10.0]]).view(1, 2, 1, 2)  # (bg, fg) logits
    fine = torch.full((1, 25, 1, 2), -10.0)
    fine[0, 3, 0, 0] = 10.0
    fine[0, 5, 0, 1] = 10.0
    t_u = torch.zeros(1, 25, 1, 2)
    t_v = torch.zeros(1, 25, 1, 2)
    t_u[0, 3, 0, 0], t_v[0, 3, 0, 0] = 0.8, 0.2
    teacher = _chart(fine, t_u, t_v, coarse)
    s_u = torch.full((1, 25, 1, 2), 0.5, requires_grad=True)
    s_v = torch.full((1, 25, 1, 2), 0.5, requires_grad=True)
    student = _chart(torch.zeros(1, 25, 1, 2), s_u, s_v, torch.zeros(1, 2, 1, 2))
    mask, part = DensePoseUVLoss().select(teacher)
    assert mask.tolist() == [[[True, False]]]
    assert part[0, 0, 0].item() == 3
    # smooth-L1 (beta 1): 0.5 * 0.3^2 for U and for V
    loss = DensePoseUVLoss(loss_weight=2.0)(student, teacher)
    assert loss.item() == pytest.approx(2.0 * (0.5 * 0.09 * 2), rel=1e-5)
    loss.backward()
    assert s_u.grad[0, 3, 0, 0].item() != 0 and s_u.grad[0, 5, 0, 1].item() == 0
    mse = DensePoseUVLoss(loss_type='mse')(student, teacher)
    assert mse.item() == pytest.approx(0.09 * 2, rel=1e-5)
    # nothing confident: zero, still connected
    none = DensePoseUVLoss(fg_thr=0.9999999)(student, _chart(fine, t_u, t_v, -coarse))
    assert none.item() == 0 and none.requires_grad


def test_heatmap_distill_kl_and_mse():
    s = torch.zeros(1, 1, 1, 2)
    t = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 1, 2)  # p = (.25, .75), q = (.5, .5)
    expected = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert HeatmapDistillLoss()(s, t).item() == pytest.approx(expected, rel=1e-5)
    mse = HeatmapDistillLoss(mode='mse', loss_weight=0.5)(s, t)
    assert mse.item() == pytest.approx(0.5 * math.log(3.0)**2 / 2, rel=1e-5)
    with pytest.raises(ValueError, match="mode must be 'kl' or 'mse'"):
        HeatmapDistillLoss(mode='l1')


def test_registered():
    for name in ('FeatureMSELoss', 'DensePoseKLLoss', 'DensePoseUVLoss', 'HeatmapDistillLoss'):
        assert MODELS.get(name) is not None, name
