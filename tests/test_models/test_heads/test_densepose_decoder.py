# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePoseDecoder and DecoderRoIExtractor against hand-computed values and
an independent numpy version of detectron2's decoder maths."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.ops import RoIAlign
from mmengine.config import Config

from mmdensekd.models.heads import DensePoseDecoder
from mmdensekd.models.roi_heads import DecoderRoIExtractor
from mmdensekd.registry import MODELS

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))


# --- independent numpy re-implementation of the decoder maths -------------
def np_conv(x, w, b=None):
    """Cross-correlation, zero padding k // 2. x (C, H, W), w (O, C, k, k)."""
    k = w.shape[-1]
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    h, wd = x.shape[1:]
    out = np.zeros((w.shape[0], h, wd))
    for dy in range(k):
        for dx in range(k):
            out += np.einsum('oc,chw->ohw', w[:, :, dy, dx], xp[:, dy:dy + h, dx:dx + wd])
    if b is not None:
        out += b[:, None, None]
    return out


def np_up2(x):
    """x2 bilinear upsampling, half-pixel centres (align_corners=False):
    output pixel o reads source position max(0, (o + 0.5) / 2 - 0.5)."""

    def axis_weights(n):
        m = np.zeros((2 * n, n))
        for o in range(2 * n):
            src = max(0.0, (o + 0.5) / 2 - 0.5)
            i0 = min(int(np.floor(src)), n - 1)
            i1 = min(i0 + 1, n - 1)
            t = src - i0
            m[o, i0] += 1 - t
            m[o, i1] += t
        return m

    my, mx = axis_weights(x.shape[1]), axis_weights(x.shape[2])
    return np.einsum('yh,chw,xw->cyx', my, x, mx)


def np_decoder(feats, params, strides, common_stride=4):
    """detectron2's Decoder on one image. params: ``p{s}.{j}.weight/bias``
    (stage s = log2(stride)) and ``predictor.weight/bias``, as numpy."""
    fused = 0
    for feat, stride in zip(feats, strides):
        stage = int(np.log2(stride))
        n = max(1, stage - int(np.log2(common_stride)))
        x = feat
        for k in range(n):
            x = np.maximum(np_conv(x, params[f'p{stage}.{2 * k}.weight'],
                                   params[f'p{stage}.{2 * k}.bias']), 0)
            if stride != common_stride:
                x = np_up2(x)
        fused = fused + x
    return np_conv(fused, params['predictor.weight'], params['predictor.bias'])


def d2_params(decoder):
    """The decoder's parameters under detectron2's names (numpy)."""
    out = {}
    for i, stride in enumerate(decoder.in_strides):
        stage = int(np.log2(stride))
        for j, layer in enumerate(decoder.scale_heads[i]):
            if hasattr(layer, 'conv'):
                out[f'p{stage}.{j}.weight'] = layer.conv.weight.detach().double().numpy()
                out[f'p{stage}.{j}.bias'] = layer.conv.bias.detach().double().numpy()
    out['predictor.weight'] = decoder.predictor.weight.detach().double().numpy()
    out['predictor.bias'] = decoder.predictor.bias.detach().double().numpy()
    return out


def tiny_feats(channels=(3, 3, 3, 3), size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, c, size // 2**i, size // 2**i, generator=gen)
                 for i, c in enumerate(channels))


# --- tests -----------------------------------------------------------------
def test_layout_matches_detectron2():
    decoder = DensePoseDecoder()
    names = sorted(k for k in decoder.state_dict())
    expected = sorted([f'scale_heads.{i}.{j}.conv.{p}'
                       for i, js in enumerate([(0, ), (0, ), (0, 2), (0, 2, 4)]) for j in js
                       for p in ('weight', 'bias')] + ['predictor.weight', 'predictor.bias'])
    assert names == expected  # the 16 tensors roi_heads.decoder.{p2.0, ..., predictor}
    assert [len(h) for h in decoder.scale_heads] == [1, 2, 4, 6]
    assert isinstance(decoder.scale_heads[3][5], torch.nn.Upsample)
    assert tuple(decoder.scale_heads[0][0].conv.weight.shape) == (256, 256, 3, 3)
    assert tuple(decoder.predictor.weight.shape) == (256, 256, 1, 1)
    # c2_msra_fill: zero biases, Kaiming fan-out std sqrt(2 / (256 * 9))
    decoder.init_weights()
    assert float(decoder.scale_heads[2][2].conv.bias.detach().abs().sum()) == 0
    std = float(decoder.scale_heads[2][2].conv.weight.detach().std())
    assert std == pytest.approx((2 / (256 * 9))**0.5, rel=0.05)


def _zero_decoder(channels=2):
    decoder = DensePoseDecoder(in_channels=channels, conv_channels=channels,
                               out_channels=channels)
    with torch.no_grad():
        for p in decoder.parameters():
            p.zero_()
        for head in decoder.scale_heads:
            for layer in head[::2]:
                layer.conv.weight[0, 0, 1, 1] = 1.0  # identity on channel 0
        decoder.predictor.weight[0, 0, 0, 0] = 1.0
    return decoder


def test_one_hot_reaches_expected_place_and_scale():
    decoder = _zero_decoder()
    feats = [torch.zeros(1, 2, 32 // 2**i, 32 // 2**i) for i in range(4)]
    # a one-hot 2.0 at P4 (stride 16) row 3, col 4, after two x2 upsamplings
    feats[2][0, 0, 3, 4] = 2.0
    out = decoder(feats)[0, 0].detach().numpy()
    # one x2 bilinear step spreads a delta as [1, 3, 3, 1] / 4; two steps give
    # [1, 3, 6, 10, 12, 12, 10, 6, 3, 1] / 16 starting at 4 i - 3
    profile = np.array([1, 3, 6, 10, 12, 12, 10, 6, 3, 1]) / 16
    expected = np.zeros((32, 32))
    expected[9:19, 13:23] = 2.0 * np.outer(profile, profile)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # centre of the stride-16 cell (16 i + 7.5 px) = stride-4 index 4 i + 1.5
    ys, xs = np.nonzero(out)
    com = (out[ys, xs] * ys).sum() / out.sum(), (out[ys, xs] * xs).sum() / out.sum()
    assert com == pytest.approx((4 * 3 + 1.5, 4 * 4 + 1.5))
    assert out.sum() == pytest.approx(2.0 * 16)  # x4 per axis, mass conserved
    assert decoder(feats)[0, 1].abs().max() == 0  # other output channel untouched

    # P2 (the common stride) is not resampled; P5 is upsampled three times
    feats[2].zero_()
    feats[0][0, 0, 5, 6] = 1.5
    feats[3][0, 0, 1, 2] = 1.0
    p5 = decoder(feats)[0, 0].detach().numpy().copy()
    assert p5[5, 6] == 1.5  # the P5 spread (rows 1-22, cols 9-30) does not reach it
    p5[5, 6] = 0
    ys, xs = np.nonzero(p5 > 1e-9)
    w = p5[ys, xs]
    assert w.sum() == pytest.approx(64.0)
    assert ((w * ys).sum() / w.sum(), (w * xs).sum() / w.sum()) == pytest.approx(
        (8 * 1 + 3.5, 8 * 2 + 3.5))

    # ReLU after each conv: a negative input never reaches the output;
    # the predictor bias is added once
    feats = [torch.zeros_like(f) for f in feats]
    feats[1][0, 0, 2, 2] = -5.0
    with torch.no_grad():
        decoder.predictor.bias[0] = 0.25
    assert torch.equal(decoder(feats)[0, 0], torch.full((32, 32), 0.25))


def test_matches_numpy_reference():
    torch.manual_seed(0)
    decoder = DensePoseDecoder(in_channels=3, conv_channels=4, out_channels=5)
    with torch.no_grad():
        for p in decoder.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    feats = tiny_feats()
    out = decoder(feats)[0].detach().double().numpy()
    ref = np_decoder([f[0].double().numpy() for f in feats], d2_params(decoder), (4, 8, 16, 32))
    assert out.shape == (5, 16, 16)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_gn_norm_and_bad_inputs():
    decoder = DensePoseDecoder(in_channels=4, conv_channels=4, out_channels=2,
                               norm_cfg=dict(type='GN', num_groups=2))
    assert 'scale_heads.3.4.gn.weight' in decoder.state_dict()
    assert 'scale_heads.3.4.conv.bias' not in decoder.state_dict()  # bias=not norm
    feats = list(tiny_feats((4, 4, 4, 4), size=16))
    assert decoder(feats).shape == (1, 2, 16, 16)
    feats[3] = torch.zeros(1, 4, 3, 3)  # not 1/8 of P2: input not padded to 32
    with pytest.raises(ValueError, match='level 3 .*pad_size_divisor'):
        decoder(feats)
    with pytest.raises(ValueError, match='needs 4 feature levels'):
        decoder(feats[:3])
    with pytest.raises(ValueError, match='power of 2'):
        DensePoseDecoder(in_strides=(4, 12))
    with pytest.raises(ValueError, match='in_channels has 2 entries'):
        DensePoseDecoder(in_channels=[4, 4])
    with pytest.raises(ValueError, match='finer than common_stride'):
        DensePoseDecoder(in_strides=(2, 4))


def _extractor(**kwargs):
    cfg = dict(type='DecoderRoIExtractor',
               roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=False),
               out_channels=5, featmap_strides=[4, 8, 16, 32],
               decoder=dict(type='DensePoseDecoder', in_channels=3, conv_channels=4,
                            out_channels=5))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_decoder_roi_extractor_pools_fused_map():
    torch.manual_seed(1)
    extractor = _extractor()
    assert isinstance(extractor, DecoderRoIExtractor)
    assert extractor.num_inputs == 4 and len(extractor.roi_layers) == 1
    assert extractor.roi_layers[0].spatial_scale == 0.25
    with torch.no_grad():
        for p in extractor.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    feats = tiny_feats(size=16)
    # boxes of very different sizes all come from the one stride-4 map
    rois = torch.tensor([[0, 1., 2., 10., 12.], [0, 0., 0., 63., 63.], [0, 20., 8., 30., 50.]])
    out = extractor(feats + (torch.zeros(1, 3, 1, 1), ), rois)  # a P6 is ignored
    fused = extractor.decoder(feats)
    ref = RoIAlign(7, spatial_scale=0.25, sampling_ratio=2, aligned=False)(fused, rois)
    assert out.shape == (3, 5, 7, 7)
    torch.testing.assert_close(out, ref)
    # the pooled values come from the numpy decoder's map too (box 1 at full image)
    np_map = np_decoder([f[0].double().numpy() for f in feats], d2_params(extractor.decoder),
                        (4, 8, 16, 32))
    np.testing.assert_allclose(fused[0].detach().numpy(), np_map, rtol=1e-4, atol=1e-4)

    empty = extractor(feats, rois[:0])
    assert empty.shape == (0, 5, 7, 7)
    empty.sum().backward()  # still connected to the graph (DDP)
    assert extractor.decoder.predictor.weight.grad is not None


def test_decoder_roi_extractor_bad_config():
    with pytest.raises(ValueError, match='out_channels \\(6\\) must equal decoder.out_channels'):
        _extractor(out_channels=6)
    with pytest.raises(ValueError, match='in_strides .* differ from featmap_strides'):
        _extractor(decoder=dict(type='DensePoseDecoder', in_channels=3, out_channels=5,
                                in_strides=[8, 16, 32]))
    with pytest.raises(TypeError, match='decoder must be a config dict'):
        _extractor(decoder=None)


def test_configs_carry_decoder_as_detectron2():
    root = osp.join(ROOT, 'configs')
    for rel in ('densepose_rcnn/densepose-rcnn_r50_fpn_s1x_densepose-coco.py',
                'densepose_rcnn/densepose-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py',
                'distill/teachers/densepose-rcnn_r101_fpn_s1x_densepose-coco.py'):
        ext = Config.fromfile(osp.join(root, rel)).model.roi_head.densepose_roi_extractor
        assert ext.type == 'DecoderRoIExtractor', rel
        assert ext.featmap_strides == [4, 8, 16, 32]
        assert ext.roi_layer.output_size == 28 and ext.roi_layer.sampling_ratio == 2
        dec = ext.decoder
        assert (dec.type, dec.in_channels, dec.conv_channels, dec.out_channels,
                dec.common_stride, dec.norm_cfg) == ('DensePoseDecoder', 256, 256, 256, 4, None)
    d2 = Config.fromfile(osp.join(root, 'densepose_rcnn',
                                  'densepose-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py'))
    assert d2.model.roi_head.densepose_roi_extractor.roi_layer.aligned is False
    legacy = Config.fromfile(osp.join(root, 'densepose_rcnn',
                                      'densepose-rcnn_r50_fpn_s1x-legacy_densepose-coco.py'))
    ext = legacy.model.roi_head.densepose_roi_extractor
    assert ext.type == 'SingleRoIExtractor' and 'decoder' not in ext
    assert ext.roi_layer.output_size == 14
