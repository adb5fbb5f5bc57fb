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


def _norm(prefix: str, channels: int, running: bool = True) -> List[Tuple[str, Shape]]:
    params = ('weight', 'bias', 'running_mean', 'running_var') if running else ('weight',
                                                                                 'bias')
    return [(f'{prefix}.{p}', (channels, )) for p in params]


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
    rpn = 'proposal_generator.rpn_head'
    keys += _conv(f'{rpn}.conv', (256, 256, 3, 3))
    keys += _conv(f'{rpn}.objectness_logits', (3, 256, 1, 1))
    keys += _conv(f'{rpn}.anchor_deltas', (12, 256, 1, 1))
    keys += [(f'proposal_generator.anchor_generator.cell_anchors.{i}', (3, 4)) for i in range(5)]
    keys += _conv('roi_heads.box_head.fc1', (1024, 256 * 7 * 7))
    keys += _conv('roi_heads.box_head.fc2', (1024, 1024))
    keys += _conv('roi_heads.box_predictor.cls_score', (2, 1024))
    keys += _conv('roi_heads.box_predictor.bbox_pred', (4, 1024))
    if not legacy:
        for level in range(2, 6):
            for j in range(max(1, level - 2)):
                keys += _conv(f'roi_heads.decoder.p{level}.{2 * j}', (256, 256, 3, 3))
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


def write_key_list(path: str, name: str) -> int:
    """Write the list of detectron2 config ``name``; returns its length."""
    depth, head, confidence, legacy = VARIANTS[name]
    keys = detectron2_keys(depth, head, confidence, legacy)
    with open(path, 'w') as f:
        f.write(f'# detectron2 model-zoo state-dict keys and shapes of {name}\n'
                '# written by tools/model_converters/detectron2_key_lists.py from '
                "detectron2's module structure\n"
                '# Format: one "name shape" line per tensor, shape as comma-separated ints.\n')
        for key, shape in keys:
            f.write(f'{key} {",".join(str(s) for s in shape)}\n')
    return len(keys)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else osp.join('tests', 'data', 'detectron2_keys')
    os.makedirs(out_dir, exist_ok=True)
    for name in VARIANTS:
        n = write_key_list(osp.join(out_dir, f'{name}.txt'), name)
        print(f'{name}: {n} tensors')


if __name__ == '__main__':
    main()
