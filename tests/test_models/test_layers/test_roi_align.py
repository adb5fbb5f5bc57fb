# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch
from mmcv.ops import RoIAlign
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

from mmdensekd.models.layers import FastRoIAlign, roi_align_cpu, swap_roi_align


def _features_and_rois(num_rois: int = 24, seed: int = 0):
    """Random (2, 8, 24, 30) features and RoIs of every kind: inside, across
    and fully outside the image, degenerate (zero size) and tiny."""
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(2, 8, 24, 30, generator=g)
    xy = torch.rand(num_rois, 2, generator=g) * 140 - 10
    wh = torch.rand(num_rois, 2, generator=g) * 90
    rois = torch.cat([torch.randint(0, 2, (num_rois, 1), generator=g).float(), xy, xy + wh], 1)
    rois[0, 1:] = torch.tensor([40., 40., 40., 40.])  # zero size
    rois[1, 1:] = torch.tensor([-60., -50., -20., -10.])  # outside
    rois[2, 1:] = torch.tensor([100., 80., 100.5, 80.7])  # sub-pixel
    rois[3, 1:] = torch.tensor([0., 0., 119., 95.])  # the whole map
    return feats, rois


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 1, 2, 3])
@pytest.mark.parametrize('output_size', [7, (5, 3)])
def test_equals_mmcv(aligned, sampling_ratio, output_size):
    feats, rois = _features_and_rois()
    ref = RoIAlign(output_size, spatial_scale=0.25, sampling_ratio=sampling_ratio,
                   aligned=aligned)(feats, rois)
    out = roi_align_cpu(feats, rois, output_size, 0.25, sampling_ratio, aligned)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert ref.abs().max() > 0.5  # the comparison is not between zeros
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_wide_bins_and_other_scale():
    # few samples in wide bins (the sparse-sample path) and a finer scale
    feats, rois = _features_and_rois(seed=3)
    for scale, ratio, size in ((0.25, 2, 2), (0.5, 1, 1), (0.125, 2, 3)):
        ref = RoIAlign(size, spatial_scale=scale, sampling_ratio=ratio, aligned=True)(feats, rois)
        out = roi_align_cpu(feats, rois, size, scale, ratio, True)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_dtypes_and_empty():
    feats, rois = _features_and_rois()
    ref = RoIAlign(7, 0.25, 2, aligned=True)(feats, rois)
    out16 = roi_align_cpu(feats.bfloat16(), rois, 7, 0.25, 2, True)
    assert out16.dtype == torch.bfloat16
    torch.testing.assert_close(out16.float(), ref, rtol=0.02, atol=0.05)
    out64 = roi_align_cpu(feats.double(), rois.double(), 7, 0.25, 2, True)
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), ref, rtol=0, atol=1e-5)
    empty = roi_align_cpu(feats, rois[:0], (3, 4), 0.25, 0, True)
    assert empty.shape == (0, 8, 3, 4)
    # channels-last input gives the same result
    out_cl = roi_align_cpu(feats.contiguous(memory_format=torch.channels_last), rois, 7, 0.25,
                           2, True)
    torch.testing.assert_close(out_cl, ref, rtol=0, atol=1e-5)


def test_bad_input():
    feats, rois = _features_and_rois()
    with pytest.raises(ValueError, match='rois must be'):
        roi_align_cpu(feats, rois[:, :4], 7)
    with pytest.raises(ValueError, match='input must be'):
        roi_align_cpu(feats[0], rois, 7)
    bad = rois.clone()
    bad[0, 0] = 5
    with pytest.raises(ValueError, match='batch indices'):
        roi_align_cpu(feats, bad, 7)


def test_module_dispatch_and_swap():
    feats, rois = _features_and_rois()
    layer = RoIAlign(7, spatial_scale=0.25, sampling_ratio=0, aligned=False)
    fast = FastRoIAlign.from_roi_align(layer)
    assert isinstance(fast, RoIAlign)
    assert (fast.output_size, fast.spatial_scale, fast.sampling_ratio, fast.aligned) == \
        (layer.output_size, layer.spatial_scale, layer.sampling_ratio, layer.aligned)
    torch.testing.assert_close(fast(feats, rois), layer(feats, rois), rtol=0, atol=1e-5)
    # max pooling is left to mmcv
    max_layer = RoIAlign(7, 0.25, 2, pool_mode='max', aligned=False)
    torch.testing.assert_close(FastRoIAlign.from_roi_align(max_layer)(feats, rois),
                               max_layer(feats, rois))

    extractor = SingleRoIExtractor(roi_layer=dict(type='RoIAlign', output_size=7,
                                                  sampling_ratio=0),
                                   out_channels=8, featmap_strides=[4, 8])
    levels = (feats, feats[..., ::2, ::2].contiguous())
    ref = extractor(levels, rois)
    assert swap_roi_align(extractor) == 2 and swap_roi_align(extractor) == 0
    assert all(type(m) is FastRoIAlign for m in extractor.roi_layers)
    torch.testing.assert_close(extractor(levels, rois), ref, rtol=0, atol=1e-5)
    assert len(extractor.state_dict()) == 0
