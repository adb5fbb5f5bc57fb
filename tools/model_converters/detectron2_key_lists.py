# Copyright (c) mmdensekd contributors. All rights reserved.
"""Write the parameter names and shapes of detectron2's chart-based
DensePose R-CNN model-zoo checkpoints (``tests/data/detectron2_keys``).

    python tools/model_converters/detectron2_key_lists.py [OUT_DIR]

The lists come from detectron2's module structure alone (not from our
models), so the converter tests that read them check our layouts against
detectron2's:

- ``build_resnet_fpn_backbone``: ``backbone.bottom_up.stem.conv1[.norm]``,
  ``backbone.bottom_up.res{2..5}.{b}.conv{1,2,3}[.norm]`` (bottleneck widths
  64/128/256/512, outputs 256/512/1024/2048; blocks 3, 4, 6 (R-50) or 23
  (R-101), 3), ``shortcut[.norm]`` on block 0, FrozenBN (``weight, bias,
  running_mean, running_var``); ``backbone.fpn_lateral{2..5}`` /
  ``fpn_output{2..5}`` (256 channels, biased);
- ``StandardRPNHead``: ``conv`` 3x3, ``objectness_logits`` (3 anchors),
  ``anchor_deltas`` (12);
- ``FastRCNNConvFCHead`` ``fc1`` (256 x 7 x 7 -> 1024), ``fc2``;
  ``box_predictor.cls_score`` (2), ``bbox_pred`` (4, one class);
- ``Decoder`` (``DECODER_ON``, all but the legacy models):
  ``roi_heads.decoder.p{2..5}.{0,2,4}`` 3x3 convs (no norm: biased) and
  ``predictor`` 1x1, 256 channels;
- ``DensePoseV1ConvXHead``: ``body_conv_fcn{1..8}`` 3x3, 512, biased;
  ``DensePoseDeepLabHead`` (``_DL_``): ``ASPP.convs.{0..4}`` (bias-free
  convs + GroupNorm, rates 6/12/56 and image pooling, output = input
  channels 256), ``ASPP.project.0``, then ``body_conv_fcn{1..8}`` with
  ``DEEPLAB.NORM='GN'`` (no bias, ``.norm``); no non-local block
  (``NONLOCAL_ON`` 0);
- ``DensePoseChartPredictor`` (``ConvTranspose2d`` weights ``in, out, 4,
  4``): ``ann_index_lowres`` (2, or 15 legacy), ``index_uv_lowres``,
  ``u_lowres``, ``v_lowres`` (25); confidences: ``sigma_2_lowres`` (WC1,
  WC2), ``kappa_u_lowres`` / ``kappa_v_lowres`` (WC2),
  ``fine_segm_confidence_lowres`` / ``coarse_segm_confidence_lowres`` (1
  channel, the ``M`` variants);
- buffers ``pixel_mean`` / ``pixel_std`` (3, 1, 1) and the anchor
  generator's ``cell_anchors.{0..4}`` (3, 4) that the model-zoo checkpoints
  hold.

HRNet (``configs/HRNet/densepose_rcnn_HRFPN_HRNet_w{32,40,48}_s1x.yaml``,
``build_hrfpn_backbone``; detectron2 publishes no weights for them, the
lists are what a model trained by detectron2 saves):

- ``PoseHigherResolutionNet`` (``backbone.bottom_up.*``): stem ``conv1`` /
  ``conv2`` (3x3, 64) with ``bn1`` / ``bn2``; ``layer1.{0..3}``
  Bottlenecks of 64 (``downsample`` on block 0); ``transition{1,2,3}``;
  ``stage{2,3,4}`` of 1 / 4 / 3 modules with 2 / 3 / 4 branches of four
  BasicBlocks (``branches.{b}.{k}.conv{1,2}`` / ``bn{1,2}``) and
  ``fuse_layers.{i}.{j}``; branch channels ``(w, 2w, 4w, 8w)``;
- ``HRFPN``: ``fpn_conv.{0..4}`` (3x3, 256, biased),
  ``interp_conv.{0..3}.0`` (``ConvTranspose2d(C_i, C_i, 4)``, weights
  ``C_i, C_i, 4, 4``, no bias) + ``.1`` BN, ``reduction_pooling_conv.{0..4}.0``
  (``Conv2d(15w, 256, 2^k, stride 2^k)``, biased) + ``.1`` BN;
- every norm is ``nn.BatchNorm2d`` (``num_batches_tracked`` included, shape
  ``()``); no ``pixel_mean`` / ``pixel_std`` / ``cell_anchors`` (non-persistent
  buffers since detectron2 2021-02 / 2021-05; HRNet came in 2020-07, so an
  older checkpoint may hold them: the converter reads / checks them);
- the heads as ``densepose_rcnn_R_50_FPN_s1x`` but on p1..p5 (strides 4 to
  64): the decoder has ``roi_heads.decoder.p{1..5}`` with 1, 1, 2, 3, 4 convs.
"""
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

Shape = Tuple[int, ...]

#: detectron2 config name -> (depth, head, confidence, legacy)
VARIANTS: Dict[str, Tuple[int, str, str, bool]] = {}
for _depth in (50, 101):
    VARIANTS[f'densepose_rcnn_R_{_depth}_FPN_s1x_legacy'] = (_depth, 'v1convx', '', True)
    for _dl in ('', 'DL_'):
        for _conf in ('', 'WC1', 'WC2', 'WC1M', 'WC2M'):
            name = f'densepose_rcnn_R_{_depth}_FPN_{_dl}{_conf + "_" if _conf else ""}s1x'
            VARIANTS[name] = (_depth, 'deeplab' if _dl else 'v1convx', _conf, False)
#: detectron2 HRNet config name (configs/HRNet/*.yaml) -> HRNet width
HRNET_VARIANTS: Dict[str, int] = {
    f'densepose_rcnn_HRFPN_HRNet_w{_width}_s1x': _width for _width in (32, 40, 48)}


def _norm(prefix: str, channels: int, running: bool = True) -> List[Tuple[str, Shape]]:
    params = ('weight', 'bias', 'running_mean', 'running_var') if running else ('weight',
                                                                                 'bias')
    return [(f'{prefix}.{p}', (channels, )) for p in params]


def _bn(prefix: str, channels: int) -> List[Tuple[str, Shape]]:
    """``nn.BatchNorm2d``: its state dict also holds the int64 scalar
    ``num_batches_tracked`` (shape ``()``)."""
    return _norm(prefix, channels) + [(f'{prefix}.num_batches_tracked', ())]


def _conv(prefix: str, shape: Shape, bias: bool = True) -> List[Tuple[str, Shape]]:
    return [(f'{prefix}.weight', shape)] + ([(f'{prefix}.bias', (shape[0], ))] if bias else [])


def detectron2_keys(depth: int, head: str, confidence: str, legacy: bool) -> List[Tuple[str,
                                                                                       Shape]]:
    """(name, shape) of every tensor of one chart-based DensePose R-CNN."""
    keys: List[Tuple[str, Shape]] = [('pixel_mean', (3, 1, 1)), ('pixel_std', (3, 1, 1))]
    outs = (256, 512, 1024, 2048)
    for level, c in zip(range(2, 6), outs):
        keys += _conv(f'backbone.fpn_lateral{level}', (256, c, 1, 1))
        keys += _conv(f'backbone.fpn_output{level}', (256, 256, 3, 3))
    keys += _conv('backbone.bottom_up.stem.conv1', (64, 3, 7, 7), bias=False)
    keys += _norm('backbone.bottom_up.stem.conv1.norm', 64)
    blocks = (3, 4, 6 if depth == 50 else 23, 3)
    in_c = 64
    for stage, (n, out_c) in enumerate(zip(blocks, outs)):
        mid = out_c // 4
        for b in range(n):
            p = f'backbone.bottom_up.res{stage + 2}.{b}'
            cin = in_c if b == 0 else out_c
            if b == 0:
                keys += _conv(f'{p}.shortcut', (out_c, cin, 1, 1), bias=False)
                keys += _norm(f'{p}.shortcut.norm', out_c)
            for k, shape in enumerate(((mid, cin, 1, 1), (mid, mid, 3, 3), (out_c, mid, 1, 1))):
                keys += _conv(f'{p}.conv{k + 1}', shape, bias=False)
                keys += _norm(f'{p}.conv{k + 1}.norm', shape[0])
        in_c = out_c
    levels = [(f'p{level}', 2**level) for level in range(2, 6)]
    keys += _rpn_and_roi_keys(levels, head, confidence, legacy)
    return keys


def _rpn_and_roi_keys(levels: List[Tuple[str, int]], head: str, confidence: str, legacy: bool,
                      anchors: bool = True) -> List[Tuple[str, Shape]]:
    """RPN, box head, decoder (``levels``: (name, stride) of the pyramid),
    DensePose head and predictor."""
    keys: List[Tuple[str, Shape]] = []
    rpn = 'proposal_generator.rpn_head'
    keys += _conv(f'{rpn}.conv', (256, 256, 3, 3))
    keys += _conv(f'{rpn}.objectness_logits', (3, 256, 1, 1))
    keys += _conv(f'{rpn}.anchor_deltas', (12, 256, 1, 1))
    if anchors:
        keys += [(f'proposal_generator.anchor_generator.cell_anchors.{i}', (3, 4))
                 for i in range(5)]
    keys += _conv('roi_heads.box_head.fc1', (1024, 256 * 7 * 7))
    keys += _conv('roi_heads.box_head.fc2', (1024, 1024))
    keys += _conv('roi_heads.box_predictor.cls_score', (2, 1024))
    keys += _conv('roi_heads.box_predictor.bbox_pred', (4, 1024))
    if not legacy:
        for name, stride in levels:
            for j in range(max(1, stride.bit_length() - 3)):  # log2(stride / 4)
                keys += _conv(f'roi_heads.decoder.{name}.{2 * j}', (256, 256, 3, 3))
        keys += _conv('roi_heads.decoder.predictor', (256, 256, 1, 1))
    dph = 'roi_heads.densepose_head'
    if head == 'deeplab':
        keys += _conv(f'{dph}.ASPP.convs.0.0', (256, 256, 1, 1), bias=False)
        keys += _norm(f'{dph}.ASPP.convs.0.1', 256, running=False)
        for i in (1, 2, 3):
            keys += _conv(f'{dph}.ASPP.convs.{i}.0', (256, 256, 3, 3), bias=False)
            keys += _norm(f'{dph}.ASPP.convs.{i}.1', 256, running=False)
        keys += _conv(f'{dph}.ASPP.convs.4.1', (256, 256, 1, 1), bias=False)
        keys += _norm(f'{dph}.ASPP.convs.4.2', 256, running=False)
        keys += _conv(f'{dph}.ASPP.project.0', (256, 5 * 256, 1, 1), bias=False)
    for i in range(8):
        shape = (512, 256 if i == 0 else 512, 3, 3)
        if head == 'deeplab':
            keys += _conv(f'{dph}.body_conv_fcn{i + 1}', shape, bias=False)
            keys += _norm(f'{dph}.body_conv_fcn{i + 1}.norm', 512, running=False)
        else:
            keys += _conv(f'{dph}.body_conv_fcn{i + 1}', shape)
    pred = 'roi_heads.densepose_predictor'
    layers = [('ann_index_lowres', 15 if legacy else 2), ('index_uv_lowres', 25),
              ('u_lowres', 25), ('v_lowres', 25)]
    if confidence.startswith(('WC1', 'WC2')):
        layers.append(('sigma_2_lowres', 25))
    if confidence.startswith('WC2'):
        layers += [('kappa_u_lowres', 25), ('kappa_v_lowres', 25)]
    if confidence.endswith('M'):
        layers += [('fine_segm_confidence_lowres', 1), ('coarse_segm_confidence_lowres', 1)]
    for name, c in layers:
        keys += [(f'{pred}.{name}.weight', (512, c, 4, 4)), (f'{pred}.{name}.bias', (c, ))]
    return keys


def detectron2_hrnet_keys(width: int) -> List[Tuple[str, Shape]]:
    """(name, shape) of every tensor in the state dict of detectron2's
    ``densepose_rcnn_HRFPN_HRNet_w{width}_s1x`` (trained by detectron2; no
    published model-zoo file; no ``pixel_mean`` / ``pixel_std`` /
    ``cell_anchors``: non-persistent buffers in detectron2 since 2021-05)."""
    keys: List[Tuple[str, Shape]] = []
    bu = 'backbone.bottom_up'
    keys += _conv(f'{bu}.conv1', (64, 3, 3, 3), bias=False) + _bn(f'{bu}.bn1', 64)
    keys += _conv(f'{bu}.conv2', (64, 64, 3, 3), bias=False) + _bn(f'{bu}.bn2', 64)
    in_c = 64
    for b in range(4):  # stage 1: four Bottlenecks of 64 (expansion 4)
        p = f'{bu}.layer1.{b}'
        for k, shape in enumerate(((64, in_c, 1, 1), (64, 64, 3, 3), (256, 64, 1, 1))):
            keys += _conv(f'{p}.conv{k + 1}', shape, bias=False) + _bn(f'{p}.bn{k + 1}', shape[0])
        if b == 0:
            keys += _conv(f'{p}.downsample.0', (256, 64, 1, 1), bias=False)
            keys += _bn(f'{p}.downsample.1', 256)
        in_c = 256
    pre = [256]
    for stage, num_modules in ((2, 1), (3, 4), (4, 3)):  # STAGE{2,3,4}.NUM_MODULES
        cur = [width * 2**i for i in range(stage)]
        t = f'{bu}.transition{stage - 1}'
        for i, c in enumerate(cur):
            if i < len(pre):
                if c != pre[i]:  # 3x3 conv, BN, ReLU (None when the channels agree)
                    keys += _conv(f'{t}.{i}.0', (c, pre[i], 3, 3), bias=False)
                    keys += _bn(f'{t}.{i}.1', c)
            else:  # a new branch: stride-2 3x3 convs from the last branch
                for j in range(i + 1 - len(pre)):
                    out_c = c if j == i - len(pre) else pre[-1]
                    keys += _conv(f'{t}.{i}.{j}.0', (out_c, pre[-1], 3, 3), bias=False)
                    keys += _bn(f'{t}.{i}.{j}.1', out_c)
        for m in range(num_modules):
            s = f'{bu}.stage{stage}.{m}'
            for b, c in enumerate(cur):  # four BasicBlocks per branch
                for k in range(4):
                    p = f'{s}.branches.{b}.{k}'
                    keys += _conv(f'{p}.conv1', (c, c, 3, 3), bias=False) + _bn(f'{p}.bn1', c)
                    keys += _conv(f'{p}.conv2', (c, c, 3, 3), bias=False) + _bn(f'{p}.bn2', c)
            for i, c_i in enumerate(cur):
                for j, c_j in enumerate(cur):
                    f = f'{s}.fuse_layers.{i}.{j}'
                    if j > i:  # 1x1 conv, BN, nearest upsampling
                        keys += _conv(f'{f}.0', (c_i, c_j, 1, 1), bias=False)
                        keys += _bn(f'{f}.1', c_i)
                    elif j < i:  # i - j stride-2 3x3 convs, the last to c_i
                        for k in range(i - j):
                            out_c = c_i if k == i - j - 1 else c_j
                            keys += _conv(f'{f}.{k}.0', (out_c, c_j, 3, 3), bias=False)
                            keys += _bn(f'{f}.{k}.1', out_c)
        pre = cur
    num_outs = 5  # len(ROI_HEADS.IN_FEATURES): p1..p5
    for k in range(num_outs):
        keys += _conv(f'backbone.fpn_conv.{k}', (256, 256, 3, 3))
    for i, c in enumerate(pre):
        keys += _conv(f'backbone.interp_conv.{i}.0', (c, c, 4, 4), bias=False)
        keys += _bn(f'backbone.interp_conv.{i}.1', c)
    for k in range(num_outs):
        keys += _conv(f'backbone.reduction_pooling_conv.{k}.0', (256, sum(pre), 2**k, 2**k))
        keys += _bn(f'backbone.reduction_pooling_conv.{k}.1', 256)
    levels = [(f'p{k + 1}', 4 * 2**k) for k in range(num_outs)]
    keys += _rpn_and_roi_keys(levels, 'v1convx', '', False, anchors=False)
    return keys


def variant_keys(name: str) -> List[Tuple[str, Shape]]:
    """(name, shape) list of detectron2 config ``name``."""
    if name in HRNET_VARIANTS:
        return detectron2_hrnet_keys(HRNET_VARIANTS[name])
    return detectron2_keys(*VARIANTS[name])


def write_key_list(path: str, name: str) -> int:
    """Write the list of detectron2 config ``name``; returns its length."""
    keys = variant_keys(name)
    with open(path, 'w') as f:
        if name in HRNET_VARIANTS:
            f.write(f'# detectron2 state-dict keys and shapes of {name} (a model trained\n'
                    '# with that config: detectron2 publishes no HRNet weights), generated by\n'
                    '# tools/model_converters/detectron2_key_lists.py from the module structure\n'
                    "# of detectron2's densepose/modeling/{hrnet,hrfpn}.py, not from a checkpoint\n"
                    '# Format: one "name shape" line per tensor, shape as comma-separated ints,\n'
                    '# () for a scalar (num_batches_tracked of nn.BatchNorm2d).\n')
        else:
            f.write(f'# detectron2 model-zoo state-dict keys and shapes of {name}\n'
                    '# written by tools/model_converters/detectron2_key_lists.py from '
                    "detectron2's module structure\n"
                    '# Format: one "name shape" line per tensor, shape as comma-separated '
                    'ints.\n')
        for key, shape in keys:
            f.write(f'{key} {",".join(str(s) for s in shape) or "()"}\n')
    return len(keys)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else osp.join('tests', 'data', 'detectron2_keys')
    os.makedirs(out_dir, exist_ok=True)
    for name in (*VARIANTS, *HRNET_VARIANTS):
        n = write_key_list(osp.join(out_dir, f'{name}.txt'), name)
        print(f'{name}: {n} tensors')


if __name__ == '__main__':
    main()
