# Copyright (c) mmdensekd contributors. All rights reserved.
"""D2HRFPN (detectron2 DensePose's HRFPN) against hand-computed shapes, an
identity-weight construction and an independent numpy version of its maths;
the HRNet-W32 config's features."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdensekd.models.necks import D2HRFPN
from mmdensekd.registry import MODELS
from mmdensekd.utils import register_all_modules

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
W32 = osp.join(ROOT, 'configs', 'densepose_rcnn',
               'densepose-rcnn_hrnetv2p-w32_hrfpn_s1x_densepose-coco-d2.py')


def branches(channels, height, width, seed=0):
    """HRNet-like inputs: branch i at half the size of branch i - 1 (ceil)."""
    gen = torch.Generator().manual_seed(seed)
    feats = []
    for c in channels:
        feats.append(torch.rand(1, c, height, width, generator=gen))
        height, width = -(-height // 2), -(-width // 2)
    return feats


def test_layout_shapes_and_strides():
    neck = D2HRFPN(in_channels=[2, 3, 4, 5], out_channels=6, num_outs=5).eval()
    params = {k: tuple(v.shape) for k, v in neck.state_dict().items()}
    # detectron2's names and shapes (ConvTranspose2d weights are in, out, k, k)
    assert params['interp_conv.3.0.weight'] == (5, 5, 4, 4)
    assert 'interp_conv.3.0.bias' not in params
    assert params['interp_conv.1.1.running_var'] == (3, )
    assert params['reduction_pooling_conv.4.0.weight'] == (6, 14, 16, 16)
    assert params['reduction_pooling_conv.0.0.bias'] == (6, )
    assert params['fpn_conv.2.weight'] == (6, 6, 3, 3)
    assert len(params) == 4 * 6 + 5 * 7 + 5 * 2  # BN: 5 tensors with num_batches_tracked
    assert neck.strides == (4, 8, 16, 32, 64)

    # a 128 x 192 image: branches 32x48, 16x24, 8x12, 4x6 at strides 4..32.
    # transposed convs give (h - 1) 2^i + 4 rows: 35, 34, 32, 28 -> 28;
    # columns 51, 50, 48, 44 -> 44; strided convs: 28x44, 14x22, 7x11, 3x5,
    # 1x2; each level cropped to 2^(4-k) x (1, 2).
    with torch.no_grad():
        outs = neck(branches([2, 3, 4, 5], 32, 48))
    assert [tuple(o.shape) for o in outs] == [(1, 6, 16, 32), (1, 6, 8, 16), (1, 6, 4, 8),
                                               (1, 6, 2, 4), (1, 6, 1, 2)]


def _set_identity(neck):
    """Branch i upsampled by nearest neighbours x 2^i (stride 8 > kernel 4:
    4-pixel bands with 4-pixel gaps), BN the identity, level k the 2^k x 2^k
    average of each channel, fpn convs the identity."""
    with torch.no_grad():
        for i, seq in enumerate(neck.interp_conv):
            tconv, bn = seq[0], seq[1]
            tconv.weight.zero_()
            size = min(2**i, 4)
            tconv.weight[0, 0, :size, :size] = 1.0
            bn.reset_running_stats()
            bn.weight.fill_(1.0)
            bn.bias.zero_()
        for k, seq in enumerate(neck.reduction_pooling_conv):
            conv, bn = seq[0], seq[1]
            conv.weight.zero_()
            conv.bias.zero_()
            for c in range(conv.weight.shape[0]):
                conv.weight[c, c] = 1.0 / 4**k
            bn.reset_running_stats()
            bn.weight.fill_(1.0)
            bn.bias.zero_()
        for conv in neck.fpn_conv:
            conv.weight.zero_()
            conv.bias.zero_()
            for c in range(conv.weight.shape[0]):
                conv.weight[c, c, 1, 1] = 1.0


def test_identity_weights_give_cropped_upsampled_averages():
    """Hand-checked: with identity-like weights level k, channel i is the
    2^k-average of branch i upsampled x 2^i (nearest; branch 3 in 4-wide
    bands with 4-wide gaps; zeros past each branch's end), cropped."""
    neck = D2HRFPN(in_channels=[1, 1, 1, 1], out_channels=4, num_outs=5,
                   norm_cfg=dict(type='BN', eps=0.0)).eval()  # eps 0: BN exactly 1
    _set_identity(neck)
    # 33 x 40 at stride 4: branches 33x40, 17x20, 9x10, 5x5; upsampled rows
    # 36, 36, 36, 36 (branch 0 has 3 zero rows, branch 1 two), columns 43,
    # 42, 40, 36 -> the concatenation is 36 x 36.
    feats = branches([1, 1, 1, 1], 33, 40, seed=1)
    with torch.no_grad():
        outs = neck(feats)

    ups = []
    for i, f in enumerate(feats):
        x = f[0, 0].double().numpy()
        s = 2**i
        block = np.zeros((s, s))
        block[:min(s, 4), :min(s, 4)] = 1.0
        up = np.kron(x, block)
        full = np.zeros(((x.shape[0] - 1) * s + 4, (x.shape[1] - 1) * s + 4))
        rows, cols = min(up.shape[0], full.shape[0]), min(up.shape[1], full.shape[1])
        full[:rows, :cols] = up[:rows, :cols]
        ups.append(full)
    assert [u.shape for u in ups] == [(36, 43), (36, 42), (36, 40), (36, 36)]
    cat = np.stack([u[:36, :36] for u in ups])
    assert cat[0, 33:].max() == 0 and cat[1, 34:].max() == 0  # past the branch ends
    # branch 3: 4x4 blocks on an 8-pixel grid, zero bands between
    assert cat[3, 4:8].max() == 0 and cat[3, :, 4:8].max() == 0 and cat[3, :4, :4].min() > 0
    pooled = []  # 36, 18, 9, 4 (of 4.5), 2 (of 2.25): a strided conv drops the rest
    for k in range(5):
        s, n = 2**k, 36 // 2**k
        pooled.append(cat[:, :n * s, :n * s].reshape(4, n, s, n, s).mean(axis=(2, 4)))
    last = pooled[4].shape[1:]
    assert last == (2, 2)
    for k, (out, ref) in enumerate(zip(outs, pooled)):
        scale = 2**(4 - k)
        ref = ref[:, :last[0] * scale, :last[1] * scale]
        assert tuple(out.shape[2:]) == ref.shape[1:] == (2 * scale, 2 * scale)
        np.testing.assert_allclose(out[0].double().numpy(), ref, rtol=1e-5, atol=1e-6)


# --- independent numpy version of detectron2's HRFPN maths -----------------
def np_conv_transpose(x, w, stride):
    """x (C, H, W), w (C, O, k, k), padding 0."""
    c, h, wd = x.shape
    k = w.shape[-1]
    out = np.zeros((w.shape[1], (h - 1) * stride + k, (wd - 1) * stride + k))
    for a in range(k):
        for b in range(k):
            out[:, a:a + (h - 1) * stride + 1:stride, b:b + (wd - 1) * stride + 1:stride] += \
                np.einsum('co,chw->ohw', w[:, :, a, b], x)
    return out


def np_patch_conv(x, w, b):
    """Kernel = stride = k, no padding. x (C, H, W), w (O, C, k, k)."""
    k = w.shape[-1]
    c, h, wd = x.shape
    x = x[:, :h // k * k, :wd // k * k].reshape(c, h // k, k, wd // k, k)
    return np.einsum('ocab,cyaxb->oyx', w, x) + b[:, None, None]


def np_conv3x3(x, w, b):
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    h, wd = x.shape[1:]
    out = sum(np.einsum('oc,chw->ohw', w[:, :, dy, dx], xp[:, dy:dy + h, dx:dx + wd])
              for dy in range(3) for dx in range(3))
    return out + b[:, None, None]


def np_bn_relu(x, sd, prefix, eps=1e-5):
    g, b, m, v = (sd[f'{prefix}.{n}'] for n in ('weight', 'bias', 'running_mean',
                                                 'running_var'))
    y = (x - m[:, None, None]) / np.sqrt(v[:, None, None] + eps) * g[:, None, None] \
        + b[:, None, None]
    return np.maximum(y, 0)


def test_random_weights_match_numpy_reference():
    torch.manual_seed(0)
    neck = D2HRFPN(in_channels=[2, 3, 2, 4], out_channels=5, num_outs=4).eval()
    with torch.no_grad():
        for name, value in neck.state_dict().items():
            if name.endswith('running_var'):
                value.uniform_(0.5, 2.0)
            elif name.endswith(('running_mean', 'bias')) or '.1.weight' in name:
                value.normal_()
    sd = {k: v.double().numpy() for k, v in neck.state_dict().items()}
    feats = branches([2, 3, 2, 4], 21, 26, seed=2)
    with torch.no_grad():
        outs = neck(feats)
    ups = [np_bn_relu(np_conv_transpose(f[0].double().numpy(), sd[f'interp_conv.{i}.0.weight'],
                                        2**i), sd, f'interp_conv.{i}.1')
           for i, f in enumerate(feats)]
    h = min(u.shape[1] for u in ups)
    w = min(u.shape[2] for u in ups)
    cat = np.concatenate([u[:, :h, :w] for u in ups])
    levels = [np_bn_relu(np_patch_conv(cat, sd[f'reduction_pooling_conv.{k}.0.weight'],
                                       sd[f'reduction_pooling_conv.{k}.0.bias']), sd,
                         f'reduction_pooling_conv.{k}.1') for k in range(4)]
    lh, lw = levels[-1].shape[1:]
    for k, out in enumerate(outs):
        s = 2**(3 - k)
        ref = np_conv3x3(levels[k][:, :lh * s, :lw * s], sd[f'fpn_conv.{k}.weight'],
                         sd[f'fpn_conv.{k}.bias'])
        assert out.shape[1:] == ref.shape
        np.testing.assert_allclose(out[0].double().numpy(), ref, rtol=1e-4,
                                   atol=1e-4 * np.abs(ref).max())


def test_bad_inputs():
    neck = D2HRFPN(in_channels=[1, 1, 1, 1], out_channels=2, num_outs=5)
    with pytest.raises(ValueError, match='expects 4 HRNet branches, got 3'):
        neck(branches([1, 1, 1], 32, 32))
    with pytest.raises(ValueError, match='too small'):
        neck(branches([1, 1, 1, 1], 8, 8))  # stride-4 map 8x8 < level 4's 16x16 kernel
    with pytest.raises(ValueError, match='in_channels'):
        D2HRFPN(in_channels=[])


def test_w32_config_features_any_input_size():
    """The HRNet-W32 d2 config: no padding (detectron2's size_divisibility
    0), five 256-channel levels at strides 4..64, each twice the next, and
    the DensePose decoder fuses them into p1's size."""
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')
    cfg = Config.fromfile(W32)
    assert cfg.model.data_preprocessor.pad_size_divisor == 1
    model = MODELS.build(cfg.model).eval()
    assert type(model.backbone).__name__ == 'D2HRNet'
    image = torch.randn(1, 3, 100, 150, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        feats = model.extract_feat(image)
        fused = model.roi_head.densepose_roi_extractor.decoder(feats)
    # stride 4: 25 x 38 -> upsampled rows min(28, 28, 28, 28), cols
    # min(41, 42, 40, 36) -> level 4: 1 x 2
    assert [tuple(f.shape) for f in feats] == [(1, 256, 16, 32), (1, 256, 8, 16),
                                                (1, 256, 4, 8), (1, 256, 2, 4), (1, 256, 1, 2)]
    assert tuple(fused.shape) == (1, 256, 16, 32)
    assert model.rpn_head.prior_generator.strides == [(s, s) for s in (4, 8, 16, 32, 64)]
    assert model.roi_head.bbox_roi_extractor.featmap_strides == [4, 8, 16, 32, 64]

    # end to end on an unpadded 90 x 130 image (random weights: any 2 boxes)
    model.test_cfg.rcnn.update(score_thr=0.0, max_per_img=2)
    sample = DetDataSample(metainfo=dict(img_shape=(90, 130), ori_shape=(90, 130),
                                         scale_factor=(1.0, 1.0)))
    img = torch.randint(0, 256, (3, 90, 130), dtype=torch.uint8,
                        generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[img], data_samples=[sample]), False)
        assert tuple(data['inputs'].shape) == (1, 3, 90, 130)
        pred = model.predict(data['inputs'], data['data_samples'])[0].pred_instances
    assert len(pred) == 2 and 'densepose' in pred
