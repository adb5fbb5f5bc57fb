# Copyright (c) mmdensekd contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F

from mmdensekd.models.losses import DensePoseChartLoss
from mmdensekd.models.losses.densepose_chart_loss import inverse_variance_weights
from mmdensekd.structures import DensePoseChartPredictorOutput, DensePoseTargets

# GT box 128x128 at (10, 20); the proposal is twice as wide, shifted left.
GT_BOX = torch.tensor([[10., 20., 138., 148.]])
PROPOSAL = torch.tensor([[-54., 20., 74., 84.]])


def _pred(size: int = 4, coarse_channels: int = 2) -> DensePoseChartPredictorOutput:
    g = torch.Generator().manual_seed(0)
    shape = (1, 25, size, size)
    return DensePoseChartPredictorOutput(
        coarse_segm=torch.randn((1, coarse_channels, size, size), generator=g),
        fine_segm=torch.randn(shape, generator=g),
        u=torch.rand(shape, generator=g),
        v=torch.rand(shape, generator=g))


def _targets(points, segm=None) -> DensePoseTargets:
    segms = torch.zeros((1, 256, 256), dtype=torch.uint8) if segm is None else segm[None]
    return DensePoseTargets([torch.tensor(points, dtype=torch.float32)], segms,
                            torch.tensor([True]), torch.tensor([segm is not None]))


def _ce(logits: torch.Tensor, label: int) -> float:
    return float(torch.logsumexp(logits, 0) - logits[label])


def _smooth_l1(d: float) -> float:
    d = abs(d)
    return 0.5 * d * d if d < 1 else d - 0.5


def test_points_mapped_sampled_and_weighted_by_hand():
    pred = _pred()
    # Point A (64, 64) in the GT frame -> image (42, 52) -> proposal
    # (u, v) = (96/128, 32/64) = (0.75, 0.5) -> pixel coords (2.5, 1.5):
    # the mean of pixels (y, x) in {1, 2} x {2, 3}.
    # Point B (32, 96) -> image (26, 68) -> (0.625, 0.75) -> (2.0, 2.5):
    # the mean of pixels (2, 2) and (3, 2).
    # Point C (250, 10) -> image (135, 25) -> u = 189/128 > 1: dropped.
    pts = [[64, 64, 3, 0.2, 0.9], [32, 96, 24, 0.7, 0.1], [250, 10, 5, 0.5, 0.5]]
    loss = DensePoseChartLoss(part_weight=1.0, point_regression_weight=0.01, segm_weight=5.0)
    out = loss(pred, PROPOSAL, GT_BOX, _targets(pts))

    def at_a(t):
        return (t[0, :, 1, 2] + t[0, :, 1, 3] + t[0, :, 2, 2] + t[0, :, 2, 3]) / 4

    def at_b(t):
        return (t[0, :, 2, 2] + t[0, :, 3, 2]) / 2

    exp_i = (_ce(at_a(pred.fine_segm), 3) + _ce(at_b(pred.fine_segm), 24)) / 2
    exp_u = 0.01 * (_smooth_l1(float(at_a(pred.u)[3]) - 0.2) +
                    _smooth_l1(float(at_b(pred.u)[24]) - 0.7))
    exp_v = 0.01 * (_smooth_l1(float(at_a(pred.v)[3]) - 0.9) +
                    _smooth_l1(float(at_b(pred.v)[24]) - 0.1))
    assert out['loss_densepose_I'].item() == pytest.approx(exp_i, rel=1e-5)
    assert out['loss_densepose_U'].item() == pytest.approx(exp_u, rel=1e-5)
    assert out['loss_densepose_V'].item() == pytest.approx(exp_v, rel=1e-5)
    # No mask annotated: the segm term is zero.
    assert out['loss_densepose_S'].item() == 0

    # The four weights scale their own terms (and loss_weight all of them).
    out2 = DensePoseChartLoss(part_weight=0.3, point_regression_weight=0.1, segm_weight=2.0,
                              loss_weight=0.6)(pred, PROPOSAL, GT_BOX, _targets(pts))
    assert out2['loss_densepose_I'].item() == pytest.approx(0.6 * 0.3 * exp_i, rel=1e-5)
    assert out2['loss_densepose_U'].item() == pytest.approx(0.6 * 10 * exp_u, rel=1e-5)


@pytest.mark.parametrize('channels', [2, 15])
def test_segm_resampled_into_proposal(channels):
    pred = _pred(coarse_channels=channels)
    segm = torch.zeros((256, 256), dtype=torch.uint8)
    segm[:, :128] = 14  # left half of the GT box is the head (coarse part 14)
    # Proposal pixel centres x = -38, -6, 26, 58 -> GT frame x = -96, -32, 32,
    # 96: outside, outside, head, head; every row lies inside the GT box.
    out = DensePoseChartLoss(segm_weight=5.0)(pred, PROPOSAL, GT_BOX, _targets(
        [[64, 64, 3, 0.2, 0.9]], segm))
    label = 1 if channels == 2 else 14
    target = torch.tensor([0, 0, label, label]).repeat(4, 1)[None]
    expected = 5.0 * F.cross_entropy(pred.coarse_segm, target).item()
    assert out['loss_densepose_S'].item() == pytest.approx(expected, rel=1e-5)


def test_no_points_gives_zero_loss_connected_to_graph():
    pred = _pred()
    for t in (pred.coarse_segm, pred.fine_segm, pred.u, pred.v):
        t.requires_grad_(True)
    # Every point falls outside the proposal.
    out = DensePoseChartLoss()(pred, PROPOSAL, GT_BOX, _targets([[250, 10, 5, 0.5, 0.5]]))
    total = sum(out.values())
    assert total.item() == 0
    assert total.requires_grad
    total.backward()
    for t in (pred.coarse_segm, pred.fine_segm, pred.u, pred.v):
        assert t.grad is not None and torch.all(t.grad == 0)


def test_length_mismatch_raises():
    pred = _pred()
    with pytest.raises(ValueError, match='2 proposals'):
        DensePoseChartLoss()(pred, PROPOSAL.repeat(2, 1), GT_BOX, _targets([[1, 1, 1, 0, 0]]))


def test_loss_decreases_when_prediction_matches():
    pred = _pred()
    pts = [[64, 64, 3, 0.2, 0.9]]
    base = DensePoseChartLoss()(pred, PROPOSAL, GT_BOX, _targets(pts))['loss_densepose_I']
    pred.fine_segm[0, 3] += 10
    better = DensePoseChartLoss()(pred, PROPOSAL, GT_BOX, _targets(pts))['loss_densepose_I']
    assert better < base and better.item() < math.exp(-5)


# --- confidences (detectron2's DensePoseChartWithConfidenceLoss) -----------
def test_gaussian_uv_nll_is_the_gaussian_log_likelihood():
    """iid: 0.5 (log 2 pi + 2 log s + |d|^2 / s) by hand; indep_aniso: the
    negative log density of N(0, s I + r r^T) plus 0.5 log 2 pi (detectron2
    counts log 2 pi once), which with r = 0 is the iid value."""
    from mmdensekd.models.losses.densepose_chart_loss import gaussian_uv_nll
    du, dv = torch.tensor([0.3, -1.0]), torch.tensor([0.4, 0.5])
    raw = torch.tensor([0.0, 1.5])
    s = F.softplus(raw) + 0.01
    iid = gaussian_uv_nll(du, dv, raw)
    expected = 0.5 * (math.log(2 * math.pi) + 2 * torch.log(s) + (du**2 + dv**2) / s)
    torch.testing.assert_close(iid, expected)
    assert iid[0].item() == pytest.approx(
        0.5 * (math.log(2 * math.pi) + 2 * math.log(math.log(2) + 0.01) +
               0.25 / (math.log(2) + 0.01)), rel=1e-6)
    ku, kv = torch.tensor([0.7, -0.2]), torch.tensor([0.1, 0.9])
    aniso = gaussian_uv_nll(du, dv, raw, ku, kv)
    for i in range(2):
        r = torch.stack([ku[i], kv[i]])
        cov = s[i] * torch.eye(2) + torch.outer(r, r)
        dist = torch.distributions.MultivariateNormal(torch.zeros(2), cov)
        nll = -dist.log_prob(torch.stack([du[i], dv[i]])) - 0.5 * math.log(2 * math.pi)
        assert aniso[i].item() == pytest.approx(nll.item(), rel=1e-5)
    zeros = torch.zeros(2)
    torch.testing.assert_close(gaussian_uv_nll(du, dv, raw, zeros, zeros), iid)


def test_uv_confidence_loss_term_and_missing_outputs():
    pred = _pred()
    pts = [[64, 64, 3, 0.2, 0.9], [32, 96, 24, 0.7, 0.1]]
    pred.sigma_2 = torch.zeros_like(pred.u)
    loss = DensePoseChartLoss(point_regression_weight=0.0005, uv_confidence='iid_iso')
    out = loss(pred, PROPOSAL, GT_BOX, _targets(pts))
    assert sorted(out) == ['loss_densepose_I', 'loss_densepose_S', 'loss_densepose_UV']
    plain = DensePoseChartLoss(point_regression_weight=1.0, smooth_l1_beta=1e9)(
        pred, PROPOSAL, GT_BOX, _targets(pts))
    # smooth-L1 with a huge beta is 0.5 d^2 / beta; recover sum |d|^2 from it
    sq = (plain['loss_densepose_U'] + plain['loss_densepose_V']).item() * 2e9
    s = math.log(2) + 0.01
    expected = 0.0005 * (2 * 0.5 * (math.log(2 * math.pi) + 2 * math.log(s)) + 0.5 * sq / s)
    assert out['loss_densepose_UV'].item() == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match=r"needs the predictor outputs \['kappa_u', 'kappa_v'\]"):
        DensePoseChartLoss(uv_confidence='indep_aniso')(pred, PROPOSAL, GT_BOX, _targets(pts))
    # no point: a zero that keeps sigma_2 in the graph
    pred.sigma_2.requires_grad_(True)
    empty = loss(pred, PROPOSAL, GT_BOX, _targets(torch.zeros(0, 5).tolist()))
    assert empty['loss_densepose_UV'].item() == 0 and empty['loss_densepose_UV'].requires_grad


def test_point_weighting_by_inverse_variance():
    """Points with a sixth column (variance 1 and 3) weigh 1/1 and 1/3,
    scaled to mean 1: 1.5 and 0.5, on U and V only (the part term stays the
    plain mean); off by default (the column ignored)."""
    pred = _pred()
    pts = [[64, 64, 3, 0.2, 0.9, 1.0], [32, 96, 24, 0.7, 0.1, 3.0]]
    plain_pts = [p[:5] for p in pts]
    ref = DensePoseChartLoss()(pred, PROPOSAL, GT_BOX, _targets(plain_pts))
    off = DensePoseChartLoss()(pred, PROPOSAL, GT_BOX, _targets(pts))
    for key in ref:
        torch.testing.assert_close(off[key], ref[key])
    single = [DensePoseChartLoss()(pred, PROPOSAL, GT_BOX, _targets([p])) for p in plain_pts]
    on = DensePoseChartLoss(point_weighting=True)(pred, PROPOSAL, GT_BOX, _targets(pts))
    for key in ('loss_densepose_U', 'loss_densepose_V'):  # sums over points
        expected = 1.5 * single[0][key] + 0.5 * single[1][key]
        torch.testing.assert_close(on[key], expected)
        assert not torch.allclose(on[key], ref[key])
    torch.testing.assert_close(on['loss_densepose_I'], ref['loss_densepose_I'])
    # the confidence (Gaussian NLL) term is weighted alike
    pred.sigma_2 = torch.full_like(pred.u, 0.3)
    kw = dict(uv_confidence='iid_iso', point_regression_weight=1.0)
    single = [DensePoseChartLoss(**kw)(pred, PROPOSAL, GT_BOX, _targets([p]))
              for p in plain_pts]
    on = DensePoseChartLoss(point_weighting=True, **kw)(pred, PROPOSAL, GT_BOX, _targets(pts))
    torch.testing.assert_close(
        on['loss_densepose_UV'],
        1.5 * single[0]['loss_densepose_UV'] + 0.5 * single[1]['loss_densepose_UV'])


def test_inverse_variance_weights_mixed_and_missing():
    """Variances 0.02, 0.06, 0.03 -> 1/s = 50, 16.67, 33.33 (mean 33.33):
    1.5, 0.5, 1.0; NaN (no variance) -> 1; all NaN -> all 1."""
    var = torch.tensor([0.02, float('nan'), 0.06, 0.03])
    torch.testing.assert_close(inverse_variance_weights(var), torch.tensor([1.5, 1.0, 0.5, 1.0]))
    torch.testing.assert_close(inverse_variance_weights(torch.full((3, ), float('nan'))),
                               torch.ones(3))


def test_point_weighting_per_instance_with_and_without_variances():
    """Two RoIs of one batch: instance 0 carries variances (1, 3), instance 1
    has five columns: weights 1.5, 0.5 and 1 for its point."""
    pred1 = _pred()
    pred = DensePoseChartPredictorOutput(
        **{k: torch.cat([getattr(pred1, k)] * 2) for k in ('coarse_segm', 'fine_segm', 'u',
                                                              'v')})
    pts0 = [[64, 64, 3, 0.2, 0.9, 1.0], [32, 96, 24, 0.7, 0.1, 3.0]]
    pts1 = [[64, 64, 7, 0.4, 0.6]]
    targets = DensePoseTargets(
        [torch.tensor(pts0), torch.tensor(pts1)], torch.zeros((2, 256, 256), dtype=torch.uint8),
        torch.tensor([True, True]), torch.tensor([False, False]))
    on = DensePoseChartLoss(point_weighting=True)(pred, PROPOSAL.repeat(2, 1), GT_BOX.repeat(2, 1),
                                                  targets)
    single = [DensePoseChartLoss()(pred1, PROPOSAL, GT_BOX, _targets([p[:5]]))
              for p in pts0 + pts1]
    for key in ('loss_densepose_U', 'loss_densepose_V'):
        expected = 1.5 * single[0][key] + 0.5 * single[1][key] + single[2][key]
        torch.testing.assert_close(on[key], expected)
    # without any variance, weighting changes nothing
    plain = DensePoseTargets([torch.tensor(pts1)], torch.zeros((1, 256, 256), dtype=torch.uint8),
                             torch.tensor([True]), torch.tensor([False]))
    a = DensePoseChartLoss(point_weighting=True)(pred1, PROPOSAL, GT_BOX, plain)
    b = DensePoseChartLoss()(pred1, PROPOSAL, GT_BOX, plain)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
