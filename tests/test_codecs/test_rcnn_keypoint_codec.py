# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from mmdensekd.codecs import RCNNKeypointCodec
from mmdensekd.registry import KEYPOINT_CODECS

W = H = 56


def _random_instances(num=6, num_kpts=5, seed=0):
    """Seeded RoIs and keypoints strictly inside them."""
    g = torch.Generator().manual_seed(seed)
    xy0 = torch.rand(num, 2, generator=g) * 100
    wh = 40 + torch.rand(num, 2, generator=g) * 200
    rois = torch.cat([xy0, xy0 + wh], dim=1)
    rel = 0.02 + 0.96 * torch.rand(num, num_kpts, 2, generator=g)
    kpts = xy0[:, None] + rel * wh[:, None]
    return rois, kpts


def _one_hot_logits(labels, value=10.0):
    num, num_kpts = labels.shape
    logits = torch.zeros(num, num_kpts, H * W)
    logits.scatter_(2, labels[..., None], value)
    return logits.view(num, num_kpts, H, W)


def test_registered_in_mmpose_codecs():
    codec = KEYPOINT_CODECS.build(dict(type='RCNNKeypointCodec', heatmap_size=(28, 28)))
    assert isinstance(codec, RCNNKeypointCodec)
    assert codec.heatmap_size == (28, 28)


def test_encode_grid_index():
    codec = RCNNKeypointCodec()
    rois = torch.tensor([[10., 20., 66., 76.], [0., 0., 112., 28.]])
    kpts = torch.tensor([
        [[10., 20.], [65.5, 20.2], [66., 76.], [30.7, 40.1]],
        [[50., 10.], [0., 0.], [112., 28.], [111.9, 27.9]],
    ])
    enc = codec.encode(kpts, torch.ones(2, 4), rois=rois)
    labels, weights = enc['keypoint_labels'], enc['keypoint_weights']
    assert labels.dtype == torch.long and labels.shape == (2, 4)
    # roi 0 is 56 px wide: one cell per pixel; (66, 76) lies on the far
    # border and goes to the last cell
    assert labels[0].tolist() == [0, 55, 55 * 56 + 55, 20 * 56 + 20]
    # roi 1: x scale 56/112, y scale 56/28
    assert labels[1].tolist() == [20 * 56 + 25, 0, 55 * 56 + 55, 55 * 56 + 55]
    assert weights.tolist() == [[1.0] * 4, [1.0] * 4]


def test_encode_visibility_and_outside():
    codec = RCNNKeypointCodec()
    rois = torch.tensor([[10., 20., 66., 76.]])
    kpts = torch.tensor([[[30., 30.], [30., 30.], [9.99, 30.], [66.01, 30.], [30., 76.5],
                          [30., 19.], [66., 20.]]])
    visible = torch.tensor([[1., 0., 1., 1., 1., 1., 1.]])
    enc = codec.encode(kpts, visible, rois=rois)
    assert enc['keypoint_weights'].tolist() == [[1., 0., 0., 0., 0., 0., 1.]]
    # invalid entries carry index 0, valid ones their cell
    assert enc['keypoint_labels'].tolist() == [[10 * 56 + 20, 0, 0, 0, 0, 0, 55]]


def test_encode_udp_rounds_to_nearest_corner_aligned_cell():
    codec = RCNNKeypointCodec(use_udp=True)
    rois = torch.tensor([[0., 0., 55., 55.]])  # (W - 1) / w == 1
    kpts = torch.tensor([[[10.4, 20.6], [55., 55.], [0., 0.]]])
    enc = codec.encode(kpts, None, rois=rois)
    assert enc['keypoint_labels'].tolist() == [[21 * 56 + 10, 55 * 56 + 55, 0]]
    assert enc['keypoint_weights'].tolist() == [[1., 1., 1.]]


def test_encode_degenerate_roi_and_errors():
    codec = RCNNKeypointCodec()
    enc = codec.encode(torch.tensor([[[5., 5.]]]), torch.ones(1, 1),
                       rois=torch.tensor([[5., 0., 5., 10.]]))
    assert enc['keypoint_weights'].tolist() == [[0.]]
    with pytest.raises(ValueError, match='rois'):
        codec.encode(torch.zeros(1, 1, 2), torch.ones(1, 1))
    with pytest.raises(ValueError, match='keypoints_visible'):
        codec.encode(torch.zeros(1, 2, 2), torch.ones(1, 3), rois=torch.zeros(1, 4))
    with pytest.raises(ValueError, match='heatmap_size'):
        RCNNKeypointCodec(heatmap_size=(1, 56))
    with pytest.raises(ValueError, match='blur_kernel_size'):
        RCNNKeypointCodec(blur_kernel_size=4)
    with pytest.raises(ValueError, match='bboxes'):
        codec.decode(torch.zeros(1, 1, H, W))


@pytest.mark.parametrize('use_dark,use_udp', [(False, False), (True, False), (False, True),
                                              (True, True)])
def test_encode_decode_round_trip_within_one_cell(use_dark, use_udp):
    codec = RCNNKeypointCodec(use_dark=use_dark, use_udp=use_udp)
    rois, kpts = _random_instances()
    enc = codec.encode(kpts, None, rois=rois)
    assert bool(enc['keypoint_weights'].all())
    decoded, scores = codec.decode(_one_hot_logits(enc['keypoint_labels']), rois)
    assert decoded.shape == kpts.shape and scores.shape == kpts.shape[:2]
    cell = torch.stack([(rois[:, 2] - rois[:, 0]) / W, (rois[:, 3] - rois[:, 1]) / H], dim=-1)
    err_cells = (decoded - kpts).abs() / cell[:, None]
    assert float(err_cells.max()) <= 1.0
    if use_dark or use_udp:
        # decoded on the grid: the score is the logit at the argmax
        torch.testing.assert_close(scores, torch.full_like(scores, 10.0))


def _gaussian_logits(rois, kpts, udp, sigma=1.5):
    """Log-Gaussian logits centred exactly on each keypoint (sub-cell)."""
    x0, y0 = rois[:, 0, None], rois[:, 1, None]
    w, h = (rois[:, 2] - rois[:, 0])[:, None], (rois[:, 3] - rois[:, 1])[:, None]
    if udp:
        cx, cy = (kpts[..., 0] - x0) * (W - 1) / w, (kpts[..., 1] - y0) * (H - 1) / h
    else:
        cx, cy = (kpts[..., 0] - x0) * W / w - 0.5, (kpts[..., 1] - y0) * H / h - 0.5
    gx = torch.arange(W, dtype=torch.float32)
    gy = torch.arange(H, dtype=torch.float32)
    dx2 = (gx[None, None, None, :] - cx[..., None, None])**2
    dy2 = (gy[None, None, :, None] - cy[..., None, None])**2
    return -(dx2 + dy2) / (2 * sigma**2)


@pytest.mark.parametrize('use_udp', [False, True])
def test_dark_refinement_beats_plain_argmax(use_udp):
    rois, kpts = _random_instances(num=8, num_kpts=6, seed=1)
    logits = _gaussian_logits(rois, kpts, use_udp)
    cell = torch.stack([(rois[:, 2] - rois[:, 0]) / W, (rois[:, 3] - rois[:, 1]) / H], dim=-1)

    if use_udp:  # UDP without DARK: argmax cell, corner-aligned mapping
        plain_pts, _ = RCNNKeypointCodec(use_udp=True).decode(logits, rois)
    else:  # argmax cell centre, computed here
        idx = logits.flatten(2).argmax(dim=2)
        plain_pts = torch.stack([(idx % W + 0.5), (idx // W + 0.5)], dim=-1) * cell[:, None]
        plain_pts = plain_pts + rois[:, None, :2]
    dark_pts, _ = RCNNKeypointCodec(use_dark=True, use_udp=use_udp).decode(logits, rois)

    plain_err = ((plain_pts - kpts).abs() / cell[:, None]).mean()
    dark_err = ((dark_pts - kpts).abs() / cell[:, None]).mean()
    assert float(plain_err) > 0.15  # quantisation error of an argmax
    assert float(dark_err) < 0.05
    assert not torch.allclose(dark_pts, plain_pts)


def _reference_resize_decode(heatmaps, rois):
    """Per-RoI Keypoint R-CNN decoding with F.interpolate (reference)."""
    out_pts, out_scores = [], []
    for hm, roi in zip(heatmaps, rois):
        w = max(float(roi[2] - roi[0]), 1.0)
        h = max(float(roi[3] - roi[1]), 1.0)
        wc, hc = int(torch.tensor(w).ceil()), int(torch.tensor(h).ceil())
        resized = F.interpolate(hm[None], size=(hc, wc), mode='bicubic', align_corners=False)[0]
        best, idx = resized.flatten(1).max(dim=1)
        x = roi[0] + (idx % wc + 0.5) * w / wc
        y = roi[1] + (idx // wc + 0.5) * h / hc
        out_pts.append(torch.stack([x, y], dim=-1))
        out_scores.append(best)
    return torch.stack(out_pts), torch.stack(out_scores)


def test_resize_decode_matches_per_roi_interpolate_and_chunks():
    rois, _ = _random_instances(num=5, num_kpts=1, seed=2)
    rois[0, 2] = rois[0, 0] + 0.4  # narrower than one pixel -> width 1
    g = torch.Generator().manual_seed(3)
    # smooth random logits so the bicubic argmax is well separated
    heatmaps = F.interpolate(torch.randn(5, 4, 7, 7, generator=g) * 5, size=(H, W),
                             mode='bilinear', align_corners=False)
    ref_pts, ref_scores = _reference_resize_decode(heatmaps, rois)
    for budget in (2**25, 1):  # one chunk / one RoI per chunk
        codec = RCNNKeypointCodec(max_resize_elements=budget)
        pts, scores = codec.decode(heatmaps, rois)
        torch.testing.assert_close(pts, ref_pts, atol=1e-3, rtol=0)
        torch.testing.assert_close(scores, ref_scores, atol=1e-3, rtol=1e-4)
    assert bool((pts[0, :, 0] >= rois[0, 0]).all()) and bool((pts[0, :, 0] <= rois[0, 0] + 1).all())


def test_decode_empty():
    codec = RCNNKeypointCodec(use_dark=True)
    pts, scores = codec.decode(torch.zeros(0, 17, H, W), torch.zeros(0, 4))
    assert pts.shape == (0, 17, 2) and scores.shape == (0, 17)
