# Copyright (c) mmdensekd contributors. All rights reserved.
"""Convert a detectron2 DensePose R-CNN / Keypoint R-CNN checkpoint.

Usage::

    python tools/model_converters/detectron2_to_mmdensekd.py \
        model_final_162be9.pkl densepose_rcnn_r50_fpn_s1x_d2.pth \
        --config densepose_rcnn_R_50_FPN_s1x

``--config`` is required: our config file, or a detectron2 model-zoo config
name that :data:`DETECTRON2_CONFIGS` maps to our config in detectron2's
layout (every chart-based R_50 / R_101 DensePose R-CNN: FPN / DL, plain /
WC1 / WC2 / WC1M / WC2M, legacy; the HRNet ones
densepose_rcnn_HRFPN_HRNet_w{32,40,48}_s1x; and keypoint_rcnn_R_50_FPN_1x). A joint
DensePose + keypoint teacher: ``SRC`` the DensePose checkpoint,
``--keypoint-src`` the Keypoint R-CNN one (its keypoint head only) and a
joint config, e.g.
``configs/keypoint_rcnn/densepose-keypoint-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py``.

Input: a detectron2 model-zoo ``.pkl`` (a pickle holding ``{'model': {name:
numpy array}}``; only numpy arrays and plain containers are unpickled) or a
``.pth`` written by detectron2's checkpointer (``{'model': state_dict}``).
Output: ``{'state_dict': ..., 'meta': ...}`` loadable by ``init_model`` /
``load_from``.

Parameter names (detectron2 -> mmdensekd; ``[.norm]`` -> the BN):

- ``backbone.bottom_up.stem.conv1[.norm]`` -> ``backbone.conv1`` / ``backbone.bn1``
- ``backbone.bottom_up.res{s}.{b}.conv{k}[.norm]`` ->
  ``backbone.layer{s-1}.{b}.conv{k}`` / ``backbone.layer{s-1}.{b}.bn{k}``
- ``backbone.bottom_up.res{s}.{b}.shortcut[.norm]`` ->
  ``backbone.layer{s-1}.{b}.downsample.0`` / ``.downsample.1``
- ``backbone.fpn_lateral{s}`` / ``backbone.fpn_output{s}`` ->
  ``neck.lateral_convs.{i}.conv`` / ``neck.fpn_convs.{i}.conv``
- ``proposal_generator.rpn_head.{conv, objectness_logits, anchor_deltas}`` ->
  ``rpn_head.{rpn_conv, rpn_cls, rpn_reg}``
- ``roi_heads.box_head.fc{i}`` -> ``roi_head.bbox_head.shared_fcs.{i-1}``
- ``roi_heads.box_predictor.{cls_score, bbox_pred}`` ->
  ``roi_head.bbox_head.{fc_cls, fc_reg}``
- ``roi_heads.densepose_head.body_conv_fcn{i}`` ->
  ``roi_head.densepose_head.convs.{2(i-1)}`` (conv/ReLU Sequential)
- DeepLab head (checkpoints with ``roi_heads.densepose_head.ASPP.*``):
  ``roi_heads.densepose_head.{ASPP, NLBlock, body_conv_fcn{i}[.norm]}.*`` ->
  ``roi_head.densepose_head.*`` (same names, ``DensePoseDeepLabHead``)
- confidence layers ``roi_heads.densepose_predictor.{sigma_2, kappa_u,
  kappa_v, fine_segm_confidence, coarse_segm_confidence}_lowres`` ->
  ``roi_head.densepose_predictor.*`` (same names)
- ``roi_heads.densepose_predictor.{ann_index_lowres, index_uv_lowres, u_lowres,
  v_lowres}`` -> ``roi_head.densepose_predictor.{coarse_segm_lowres,
  fine_segm_lowres, u_lowres, v_lowres}``
- ``roi_heads.keypoint_head.conv_fcn{i}`` -> ``roi_head.keypoint_head.convs.{2(i-1)}``
- ``roi_heads.keypoint_head.score_lowres`` -> ``roi_head.keypoint_head.deconv``
- ``roi_heads.decoder.p{s}.{j}[.norm]`` (the DensePose decoder of every
  non-legacy DensePose config, ``DECODER_ON=True``) ->
  ``roi_head.densepose_roi_extractor.decoder.scale_heads.{s-2}.{j}.conv``
  / ``.{j}.bn`` or ``.{j}.gn`` (``DECODER_NORM`` BN / GN; ``j`` keeps
  detectron2's index: convs at even indices, upsamplings at odd ones)
- ``roi_heads.decoder.predictor`` ->
  ``roi_head.densepose_roi_extractor.decoder.predictor``

HRNet models (``build_hrfpn_backbone``, configs
``densepose-rcnn_hrnetv2p-w*_hrfpn_s1x_densepose-coco-d2.py``):

- ``backbone.bottom_up.{conv1, bn1, conv2, bn2, layer1, transition{1,2,3},
  stage{2,3,4}}.*`` -> ``backbone.*`` (``D2HRNet``: mmdet's ``HRNet``
  names, unchanged)
- ``backbone.{interp_conv, reduction_pooling_conv, fpn_conv}.*`` ->
  ``neck.*`` (``D2HRFPN``, detectron2's names)
- their levels are named ``p1..p5`` (stride 4 = ``p1``), so the decoder's
  ``roi_heads.decoder.p{s}`` -> ``scale_heads.{s-1}``
- their norms are ``nn.BatchNorm2d``: ``num_batches_tracked`` is converted
  when present (else set to 0)

``i`` of the FPN is the stage minus the lowest converted stage (``res2`` ->
0 for mmdet's ``FPN(start_level=0)``; ``p1`` -> 0 for HRFPN). detectron2's FrozenBN keeps
``weight, bias, running_mean, running_var``; old checkpoints without running
statistics get mean 0 / var 1, and every BN without ``num_batches_tracked``
gets 0.
``pixel_mean`` / ``pixel_std`` buffers are read into the printed
preprocessor settings; ``proposal_generator.anchor_generator.cell_anchors.{i}``
buffers (older checkpoints) are checked against the anchor layout below.

Nothing is dropped silently: any other tensor (mask heads, C4
``roi_heads.res5``, CSE predictors, anchors of another layout, ...) and any
model parameter or buffer the checkpoint does not fill (or fills with the
wrong shape) is listed and the converter exits with status 1 without
writing, unless ``--allow-partial`` is given.

Layout facts that make the tensors usable unchanged:

* Anchors: detectron2 ``SIZES=[[32],[64],[128],[256],[512]]``,
  ``ASPECT_RATIOS=[[0.5,1.0,2.0]]`` (ratio = h / w) on P2..P6, generated
  size-major then ratio; mmdet ``AnchorGenerator(scales=[8],
  ratios=[0.5,1.0,2.0], strides=[4..64])`` generates ratio-major then scale.
  With one size per level both give the anchor order [0.5, 1, 2] per
  location, same sizes (``w = s / sqrt(r)``, ``h = s * sqrt(r)``) and centres
  (offset 0), so ``objectness_logits`` (A channels) maps to ``rpn_cls``
  (sigmoid, A channels) and ``anchor_deltas`` (A*4 channels, anchor-major,
  dx dy dw dh) to ``rpn_reg`` as they are. With several sizes per level
  set ``scale_major=False`` in the anchor generator.
* Box predictor: ``cls_score`` has ``num_classes + 1`` outputs with the
  background last, like mmdet's ``fc_cls``; ``bbox_pred`` is class-specific
  ``num_classes * 4`` (class-major, dx dy dw dh), like ``fc_reg`` with
  ``reg_class_agnostic=False`` (detectron2 weights (10, 10, 5, 5) = mmdet
  ``target_stds=[0.1, 0.1, 0.2, 0.2]``). ``fc1`` flattens (C, 7, 7) in the
  same order as ``Shared2FCBBoxHead``.
* Input: detectron2 R-50/101 models (MSRA ImageNet init) take BGR images,
  pixel mean [103.53, 116.28, 123.675], std [1, 1, 1], and put the stride of
  each first bottleneck in its 1x1 conv (``STRIDE_IN_1X1``), i.e. mmdet
  ``style='caffe'``. The DensePose s1x recipe pools boxes and DensePose RoIs
  with ``ROIAlign`` (``aligned=False``), sampling ratio 2.
* HRNet models: the same input (detectron2's default ``PIXEL_MEAN`` /
  ``PIXEL_STD``, BGR; the HRNet yamls keep them) but no padding to a
  multiple of 32 (``HRFPN`` has ``size_divisibility`` 0): their configs use
  ``pad_size_divisor=1`` and ``D2HRNet``, which crops like detectron2.
  Boxes are pooled from p1..p5 (strides 4 to 64; mmdet's level rule with
  ``finest_scale=56`` is detectron2's with canonical box 224 at level 4).
"""
import argparse
import copy
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from mmdensekd.utils.safe_pickle import safe_load_pickle

#: detectron2's input normalisation of the MSRA-initialised model-zoo models.
DETECTRON2_PIXEL_MEAN = [103.53, 116.28, 123.675]
DETECTRON2_PIXEL_STD = [1.0, 1.0, 1.0]

_BN_PARAMS = ('weight', 'bias', 'running_mean', 'running_var')
_PREDICTOR_NAMES = dict(ann_index_lowres='coarse_segm_lowres',
                        index_uv_lowres='fine_segm_lowres', u_lowres='u_lowres',
                        v_lowres='v_lowres')
#: confidence layers of detectron2's chart predictor (same names here)
_CONFIDENCE_LAYERS = ('sigma_1_lowres', 'sigma_2_lowres', 'kappa_u_lowres', 'kappa_v_lowres',
                      'fine_segm_confidence_lowres', 'coarse_segm_confidence_lowres')
_IGNORED_BUFFERS = ('pixel_mean', 'pixel_std')
_CELL_ANCHORS = re.compile(r'^proposal_generator\.anchor_generator\.cell_anchors\.(\d+)$')
#: anchor sizes (one per level P2..P6) and ratios (h / w) the mapping assumes
DETECTRON2_ANCHOR_SIZES = (32, 64, 128, 256, 512)
DETECTRON2_ANCHOR_RATIOS = (0.5, 1.0, 2.0)


def load_detectron2_checkpoint(path: str) -> Dict[str, Any]:
    """Read the parameter dict of a detectron2 checkpoint.

    Args:
        path (str): ``.pkl`` (model zoo) or ``.pth`` file.

    Returns:
        dict[str, np.ndarray | Tensor]: detectron2 parameter name -> value.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file holds no detectron2 model state (e.g. a Caffe2
            ``blobs`` checkpoint of Detectron 1).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file {path} does not exist')
    if path.endswith('.pkl'):
        data = safe_load_pickle(path)
    else:
        try:
            data = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as err:
            raise ValueError(f'cannot read torch checkpoint {path}: {err}') from err
    if not isinstance(data, Mapping):
        raise ValueError(f'{path}: expected a dict, got {type(data).__name__}')
    if 'blobs' in data and 'model' not in data:
        raise ValueError(f'{path} is a Caffe2 (Detectron 1) "blobs" checkpoint; load it in '
                         'detectron2 and save its model state first')
    state = data.get('model', data.get('state_dict', data))
    if not isinstance(state, Mapping) or not state:
        raise ValueError(f'{path}: no model parameters found')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def _bn(prefix: str, param: str) -> str:
    return f'{prefix}.{param}'


def _rules(fpn_base: int,
           decoder_norm: str = 'gn',
           deeplab: bool = False) -> List[Tuple[re.Pattern, Callable[[re.Match], str]]]:
    """(pattern, target builder) pairs, tried in order."""
    norm = r'(weight|bias|running_mean|running_var)'
    wb = r'(weight|bias)'
    decoder = 'roi_head.densepose_roi_extractor.decoder'
    dph = 'roi_head.densepose_head'
    if deeplab:  # DensePoseDeepLabHead: detectron2's module names, kept as they are
        head_rules = [
            (re.compile(r'^roi_heads\.densepose_head\.((?:ASPP|NLBlock)\.[\w.]+)$'),
             lambda m: f'{dph}.{m[1]}'),
            (re.compile(rf'^roi_heads\.densepose_head\.(body_conv_fcn\d+)\.{wb}$'),
             lambda m: f'{dph}.{m[1]}.{m[2]}'),
            (re.compile(rf'^roi_heads\.densepose_head\.(body_conv_fcn\d+)\.norm\.{wb}$'),
             lambda m: f'{dph}.{m[1]}.norm.{m[2]}'),
        ]
    else:
        head_rules = [
            (re.compile(rf'^roi_heads\.densepose_head\.body_conv_fcn(\d+)\.{wb}$'),
             lambda m: f'{dph}.convs.{2 * (int(m[1]) - 1)}.{m[2]}'),
        ]
    return head_rules + [
        # HRNet (detectron2's PoseHigherResolutionNet = mmdet HRNet names)
        (re.compile(r'^backbone\.bottom_up\.((?:conv[12]|bn[12])\.\w+|'
                    r'(?:layer1|transition[123]|stage[234])\.[\w.]+)$'),
         lambda m: f'backbone.{m[1]}'),
        # detectron2's HRFPN, kept as it is in D2HRFPN
        (re.compile(r'^backbone\.((?:interp_conv|reduction_pooling_conv|fpn_conv)\.\d+\.'
                    r'[\w.]+)$'),
         lambda m: f'neck.{m[1]}'),
        (re.compile(r'^backbone\.bottom_up\.stem\.conv1\.weight$'),
         lambda m: 'backbone.conv1.weight'),
        (re.compile(rf'^backbone\.bottom_up\.stem\.conv1\.norm\.{norm}$'),
         lambda m: f'backbone.bn1.{m[1]}'),
        (re.compile(r'^backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.weight$'),
         lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.conv{m[3]}.weight'),
        (re.compile(rf'^backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.norm\.{norm}$'),
         lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.bn{m[3]}.{m[4]}'),
        (re.compile(r'^backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.weight$'),
         lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.downsample.0.weight'),
        (re.compile(rf'^backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.norm\.{norm}$'),
         lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.downsample.1.{m[3]}'),
        (re.compile(rf'^backbone\.fpn_lateral(\d)\.{wb}$'),
         lambda m: f'neck.lateral_convs.{int(m[1]) - fpn_base}.conv.{m[2]}'),
        (re.compile(rf'^backbone\.fpn_output(\d)\.{wb}$'),
         lambda m: f'neck.fpn_convs.{int(m[1]) - fpn_base}.conv.{m[2]}'),
        (re.compile(rf'^proposal_generator\.rpn_head\.conv\.{wb}$'),
         lambda m: f'rpn_head.rpn_conv.{m[1]}'),
        (re.compile(rf'^proposal_generator\.rpn_head\.objectness_logits\.{wb}$'),
         lambda m: f'rpn_head.rpn_cls.{m[1]}'),
        (re.compile(rf'^proposal_generator\.rpn_head\.anchor_deltas\.{wb}$'),
         lambda m: f'rpn_head.rpn_reg.{m[1]}'),
        (re.compile(rf'^roi_heads\.box_head\.fc(\d+)\.{wb}$'),
         lambda m: f'roi_head.bbox_head.shared_fcs.{int(m[1]) - 1}.{m[2]}'),
        (re.compile(rf'^roi_heads\.box_predictor\.cls_score\.{wb}$'),
         lambda m: f'roi_head.bbox_head.fc_cls.{m[1]}'),
        (re.compile(rf'^roi_heads\.box_predictor\.bbox_pred\.{wb}$'),
         lambda m: f'roi_head.bbox_head.fc_reg.{m[1]}'),
        (re.compile(r'^roi_heads\.densepose_predictor\.'
                    rf'(ann_index_lowres|index_uv_lowres|u_lowres|v_lowres)\.{wb}$'),
         lambda m: f'roi_head.densepose_predictor.{_PREDICTOR_NAMES[m[1]]}.{m[2]}'),
        (re.compile(rf'^roi_heads\.densepose_predictor\.({"|".join(_CONFIDENCE_LAYERS)})'
                    rf'\.{wb}$'),
         lambda m: f'roi_head.densepose_predictor.{m[1]}.{m[2]}'),
        (re.compile(rf'^roi_heads\.keypoint_head\.conv_fcn(\d+)\.{wb}$'),
         lambda m: f'roi_head.keypoint_head.convs.{2 * (int(m[1]) - 1)}.{m[2]}'),
        (re.compile(rf'^roi_heads\.keypoint_head\.score_lowres\.{wb}$'),
         lambda m: f'roi_head.keypoint_head.deconv.{m[1]}'),
        (re.compile(rf'^roi_heads\.decoder\.p(\d)\.(\d+)\.{wb}$'),
         lambda m: f'{decoder}.scale_heads.{int(m[1]) - fpn_base}.{m[2]}.conv.{m[3]}'),
        (re.compile(rf'^roi_heads\.decoder\.p(\d)\.(\d+)\.norm\.{norm}$'),
         lambda m: f'{decoder}.scale_heads.{int(m[1]) - fpn_base}.{m[2]}.{decoder_norm}.{m[3]}'),
        (re.compile(rf'^roi_heads\.decoder\.predictor\.{wb}$'),
         lambda m: f'{decoder}.predictor.{m[1]}'),
    ]


def fpn_base_stage(keys) -> int:
    """Lowest FPN stage of the checkpoint (2 for P2..P5), 1 for detectron2's
    HRFPN (levels p1..p5, ``p1`` at stride 4), or 2 if none."""
    if is_hrfpn(keys):
        return 1
    stages = [int(m[1]) for k in keys for m in [re.match(r'^backbone\.fpn_lateral(\d)\.', k)]
              if m]
    return min(stages) if stages else 2


def is_hrfpn(keys) -> bool:
    """Whether the checkpoint's backbone is detectron2's HRNet + HRFPN."""
    return any(k.startswith(('backbone.interp_conv.', 'backbone.reduction_pooling_conv.'))
               for k in keys)


def decoder_norm_name(keys) -> str:
    """mmcv ``ConvModule`` norm name of the decoder convs: ``'bn'`` when the
    checkpoint's decoder norms carry running statistics, else ``'gn'``."""
    return 'bn' if any(k.startswith('roi_heads.decoder.') and k.endswith('.norm.running_mean')
                       for k in keys) else 'gn'


def is_deeplab_head(keys) -> bool:
    """Whether the checkpoint's DensePose head is detectron2's
    ``DensePoseDeepLabHead`` (it has ``ASPP`` tensors)."""
    return any(k.startswith('roi_heads.densepose_head.ASPP.') for k in keys)


def convert_key(key: str, fpn_base: int = 2, decoder_norm: str = 'gn',
                deeplab: bool = False) -> Optional[str]:
    """mmdensekd name of detectron2 parameter ``key`` (None if unsupported)."""
    for pattern, target in _rules(fpn_base, decoder_norm, deeplab):
        match = pattern.match(key)
        if match:
            return target(match)
    return None


def _to_tensor(value: Any, key: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        # np.array, not np.ascontiguousarray (which turns a 0-d array into 1-d)
        return torch.from_numpy(np.array(value, order='C', copy=True))
    raise TypeError(f'parameter {key}: expected an array or tensor, got {type(value).__name__}')


def detectron2_cell_anchors(level: int) -> np.ndarray:
    """detectron2's ``cell_anchors`` of FPN level ``level`` (0 = P2) for
    :data:`DETECTRON2_ANCHOR_SIZES` / :data:`DETECTRON2_ANCHOR_RATIOS`:
    ``(A, 4)`` boxes ``(-w/2, -h/2, w/2, h/2)`` centred on 0 with
    ``w = sqrt(size^2 / ratio)``, ``h = ratio * w``."""
    size = DETECTRON2_ANCHOR_SIZES[level]
    rows = []
    for ratio in DETECTRON2_ANCHOR_RATIOS:
        w = np.sqrt(size * size / ratio)
        h = ratio * w
        rows.append([-w / 2, -h / 2, w / 2, h / 2])
    return np.asarray(rows, dtype=np.float64)


def _check_cell_anchors(key: str, value: Any) -> Optional[str]:
    """None if ``key``'s anchors are the layout the mapping assumes, else why not."""
    level = int(_CELL_ANCHORS.match(key)[1])
    if level >= len(DETECTRON2_ANCHOR_SIZES):
        return f'no anchor level {level} in the assumed layout'
    array = np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor)
                       else value, dtype=np.float64)
    expected = detectron2_cell_anchors(level)
    if array.shape != expected.shape or not np.allclose(array, expected, atol=1e-2):
        return (f'anchors differ from sizes {DETECTRON2_ANCHOR_SIZES} x ratios '
                f'{DETECTRON2_ANCHOR_RATIOS} that rpn_head is mapped for')
    return None


def convert_state_dict(d2_state: Mapping[str, Any]) -> Dict[str, Any]:
    """Convert a detectron2 parameter dict.

    Args:
        d2_state (Mapping[str, np.ndarray | Tensor]): detectron2 names.

    Returns:
        dict: ``state_dict`` (OrderedDict of mmdensekd names -> tensors),
        ``mapping`` (detectron2 name -> mmdensekd name), ``unconverted``
        (detectron2 names left out), ``reasons`` (unconverted name -> why),
        ``consumed`` (buffers read but not converted: pixel statistics and
        checked anchors), ``pixel_mean`` / ``pixel_std`` (lists or None, from
        the checkpoint's buffers).
    """
    base = fpn_base_stage(d2_state.keys())
    dec_norm = decoder_norm_name(d2_state.keys())
    deeplab = is_deeplab_head(d2_state.keys())
    state: Dict[str, torch.Tensor] = OrderedDict()
    mapping, unconverted, consumed = OrderedDict(), [], []
    reasons: Dict[str, str] = OrderedDict()
    pixel = dict(pixel_mean=None, pixel_std=None)
    for key, value in d2_state.items():
        if key in _IGNORED_BUFFERS:
            # float32 buffers: round away the float32 noise (103.52999877...)
            pixel[key] = [round(float(x), 4) for x in np.asarray(value).reshape(-1)]
            consumed.append(key)
            continue
        if _CELL_ANCHORS.match(key):
            reason = _check_cell_anchors(key, value)
            if reason is None:
                consumed.append(key)
            else:
                unconverted.append(key)
                reasons[key] = reason
            continue
        target = convert_key(key, base, dec_norm, deeplab)
        if target is None:
            unconverted.append(key)
            reasons[key] = 'no mmdensekd counterpart'
            continue
        if target in state:
            raise ValueError(f'{key} and {next(k for k, v in mapping.items() if v == target)} '
                             f'both map to {target}')
        state[target] = _to_tensor(value, key)
        mapping[key] = target
    # BN layers: fill running statistics missing in old FrozenBN checkpoints
    # and add num_batches_tracked so the dict loads strictly into nn.BatchNorm
    # (HRNet's nn.BatchNorm2d checkpoints carry their own).
    bn_prefixes = OrderedDict()
    for key, target in mapping.items():
        # the DeepLab head's norms are GroupNorms (no running statistics)
        if (('.norm.' in key and not target.rsplit('.', 1)[0].endswith('.gn')
             and not key.startswith('roi_heads.densepose_head.'))
                or target.endswith(('.running_mean', '.num_batches_tracked'))):
            bn_prefixes[target.rsplit('.', 1)[0]] = None
    for prefix in bn_prefixes:
        weight = state.get(f'{prefix}.weight')
        if weight is None:
            raise ValueError(f'normalisation layer {prefix} has no weight in the checkpoint')
        state.setdefault(f'{prefix}.running_mean', torch.zeros_like(weight))
        state.setdefault(f'{prefix}.running_var', torch.ones_like(weight))
        state.setdefault(f'{prefix}.num_batches_tracked', torch.tensor(0, dtype=torch.long))
    return dict(state_dict=state, mapping=mapping, unconverted=unconverted, reasons=reasons,
                consumed=consumed, hrnet=is_hrfpn(d2_state.keys()), **pixel)


def compare_with_model(state_dict: Mapping[str, torch.Tensor],
                       model_state: Mapping[str, torch.Tensor]) -> Dict[str, list]:
    """Keys of ``model_state`` missing in ``state_dict``, unexpected keys,
    and (key, converted shape, model shape) of shape mismatches."""
    missing = [k for k in model_state if k not in state_dict]
    unexpected = [k for k in state_dict if k not in model_state]
    mismatched = [(k, tuple(v.shape), tuple(model_state[k].shape))
                  for k, v in state_dict.items()
                  if k in model_state and tuple(v.shape) != tuple(model_state[k].shape)]
    return dict(missing=missing, unexpected=unexpected, mismatched=mismatched)


def build_model_state(config: str) -> Tuple[Dict[str, torch.Tensor], Any]:
    """State dict (random weights) and config of the model of ``config``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmdensekd.registry import MODELS
    from mmdensekd.utils import register_all_modules

    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = copy.deepcopy(cfg.model)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone['init_cfg'] = None
    return MODELS.build(model_cfg).state_dict(), cfg


def config_notes(cfg: Any, has_densepose: bool) -> List[str]:
    """Where the config differs from how detectron2 ran the converted model."""
    notes = []
    model = cfg.model
    pre = model.get('data_preprocessor') or {}
    if pre.get('mean') is not None and [float(x) for x in pre['mean']] != DETECTRON2_PIXEL_MEAN:
        notes.append(f'data_preprocessor.mean={list(pre["mean"])} (detectron2: '
                     f'{DETECTRON2_PIXEL_MEAN})')
    if pre.get('std') is not None and [float(x) for x in pre['std']] != DETECTRON2_PIXEL_STD:
        notes.append(f'data_preprocessor.std={list(pre["std"])} (detectron2: '
                     f'{DETECTRON2_PIXEL_STD})')
    if pre.get('bgr_to_rgb', False):
        notes.append('data_preprocessor.bgr_to_rgb=True (detectron2 models take BGR)')
    backbone = model.get('backbone') or {}
    if backbone.get('type') == 'ResNet' and backbone.get('style', 'pytorch') != 'caffe':
        notes.append(f"backbone.style={backbone.get('style', 'pytorch')!r} (detectron2 "
                     "STRIDE_IN_1X1=True models need 'caffe')")
    if has_densepose:
        roi = model.get('roi_head') or {}
        for key in ('bbox_roi_extractor', 'densepose_roi_extractor'):
            layer = (roi.get(key) or {}).get('roi_layer') or {}
            if layer and (layer.get('aligned', True) or layer.get('sampling_ratio', 0) != 2):
                notes.append(f'roi_head.{key}.roi_layer: aligned={layer.get("aligned", True)}, '
                             f'sampling_ratio={layer.get("sampling_ratio", 0)} (detectron2 '
                             'DensePose s1x: ROIAlign aligned=False, sampling_ratio=2)')
    return notes


#: detectron2 model-zoo config name -> our config in detectron2's layout
DETECTRON2_CONFIGS: Dict[str, str] = {
    'densepose_rcnn_R_50_FPN_s1x':
    'configs/densepose_rcnn/densepose-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py',
    'keypoint_rcnn_R_50_FPN_1x': 'configs/keypoint_rcnn/keypoint-rcnn_r50_fpn_1x_coco.py',
}
for _width in (32, 40, 48):
    DETECTRON2_CONFIGS[f'densepose_rcnn_HRFPN_HRNet_w{_width}_s1x'] = (
        f'configs/densepose_rcnn/densepose-rcnn_hrnetv2p-w{_width}_hrfpn_s1x_densepose-coco-d2.py')
for _depth in (50, 101):
    DETECTRON2_CONFIGS[f'densepose_rcnn_R_{_depth}_FPN_s1x_legacy'] = (
        f'configs/densepose_rcnn/densepose-rcnn_r{_depth}-caffe_fpn_s1x-legacy_densepose-coco-d2.py')
    for _dl in ('', 'DL'):
        for _conf in ('', 'WC1', 'WC2', 'WC1M', 'WC2M'):
            _d2 = '_'.join(p for p in (f'densepose_rcnn_R_{_depth}_FPN', _dl, _conf, 's1x') if p)
            _ours = '-'.join(p for p in ('fpn', _dl.lower(), _conf.lower()) if p)
            DETECTRON2_CONFIGS.setdefault(
                _d2, f'configs/densepose_rcnn/densepose-rcnn_r{_depth}-caffe_{_ours}_s1x_'
                'densepose-coco-d2.py')


def resolve_config(config: str) -> str:
    """Our config path of ``config``: an existing file, or a detectron2
    model-zoo config name (``densepose_rcnn_R_50_FPN_DL_WC1_s1x``, with or
    without ``.yaml`` or directories) mapped by :data:`DETECTRON2_CONFIGS`
    (relative to the repository root).

    Raises:
        FileNotFoundError: neither a file nor a known detectron2 name.
    """
    if osp.isfile(config):
        return config
    name = osp.splitext(osp.basename(config))[0]
    if name in DETECTRON2_CONFIGS:
        root = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
        return osp.join(root, DETECTRON2_CONFIGS[name])
    raise FileNotFoundError(f'--config {config} is neither a config file nor a detectron2 '
                            'model-zoo config name this converter knows (' +
                            ', '.join(sorted(DETECTRON2_CONFIGS)) + ')')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='detectron2 checkpoint (.pkl or .pth)')
    parser.add_argument('dst', help='output mmdensekd checkpoint (.pth)')
    parser.add_argument('--config', required=True,
                        help='the model the checkpoint is for: our config file, or a '
                        'detectron2 model-zoo config name (e.g. densepose_rcnn_R_50_FPN_s1x), '
                        'mapped to ours; the converted keys are checked against its model')
    parser.add_argument('--keypoint-src',
                        help='a detectron2 Keypoint R-CNN checkpoint whose keypoint head '
                        '(roi_heads.keypoint_head.*) joins the DensePose checkpoint SRC into '
                        'one joint teacher (--config: a joint DensePose + keypoint config); '
                        'its other tensors (backbone, RPN, box head) are not used')
    parser.add_argument('--allow-partial', action='store_true',
                        help='write the checkpoint even if some detectron2 tensors are not '
                        'converted or some model keys are missing, unexpected or of the wrong '
                        'shape; by default the converter refuses (exit 1)')
    parser.add_argument('--strict', action='store_true',
                        help='deprecated, the default now: refuse incomplete conversions')
    args = parser.parse_args(argv)
    if args.strict and args.allow_partial:
        parser.error('--strict and --allow-partial exclude each other')
    try:
        args.config = resolve_config(args.config)
    except FileNotFoundError as err:
        parser.error(str(err))
    return args


def _refuse(dst: str, problems: List[str]) -> None:
    print(f'refusing to write {dst}: ' + '; '.join(problems) + ' (listed above); '
          'pass --allow-partial to write it anyway', file=sys.stderr)
    raise SystemExit(1)


def merge_keypoint_head(d2_state: Mapping[str, Any], kpt_state: Mapping[str, Any],
                        kpt_path: str) -> Tuple[Dict[str, Any], List[str]]:
    """The DensePose checkpoint plus the keypoint head of a Keypoint R-CNN.

    Returns:
        tuple: the merged detectron2 dict and the Keypoint R-CNN tensors not
        used (all but ``roi_heads.keypoint_head.*``).

    Raises:
        ValueError: the Keypoint R-CNN checkpoint has no keypoint head, or the
            DensePose checkpoint already has one.
    """
    head = {k: v for k, v in kpt_state.items() if k.startswith('roi_heads.keypoint_head.')}
    if not head:
        raise ValueError(f'--keypoint-src {kpt_path} has no roi_heads.keypoint_head.* tensors')
    clash = [k for k in head if k in d2_state]
    if clash:
        raise ValueError(f'the DensePose checkpoint already has keypoint head tensors '
                         f'({clash[0]}, ...); --keypoint-src would replace them')
    merged = dict(d2_state)
    merged.update(head)
    return merged, [k for k in kpt_state if k not in head]


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the conversion; returns the conversion result (and the check)."""
    args = parse_args(argv)
    d2_state = load_detectron2_checkpoint(args.src)
    sources = osp.basename(args.src)
    if args.keypoint_src:
        d2_state, unused = merge_keypoint_head(
            d2_state, load_detectron2_checkpoint(args.keypoint_src), args.keypoint_src)
        sources += ' + ' + osp.basename(args.keypoint_src)
        print(f'joint teacher: keypoint head from {args.keypoint_src}; its other {len(unused)} '
              'tensors (backbone, RPN, box head) are not used: the keypoint head runs on the '
              "DensePose model's features, which it was not trained on")
    result = convert_state_dict(d2_state)
    state = result['state_dict']
    print(f'converted {len(result["mapping"])} of {len(d2_state)} detectron2 tensors '
          f'from {sources} ({len(result["consumed"])} buffers read, '
          f'{len(result["unconverted"])} not converted)')
    for key in result['unconverted']:
        print(f'  not converted: {key} {tuple(np.shape(d2_state[key]))} '
              f'({result["reasons"][key]})')
    problems = []
    if result['unconverted']:
        problems.append(f'{len(result["unconverted"])} detectron2 tensors not converted')

    model_state, cfg = build_model_state(args.config)
    check = compare_with_model(state, model_state)
    print(f'check against {args.config}: {len(check["missing"])} missing, '
          f'{len(check["unexpected"])} unexpected, {len(check["mismatched"])} '
          'shape mismatches')
    for key in check['missing']:
        print(f'  missing in checkpoint: {key}')
    for key in check['unexpected']:
        print(f'  unexpected in model: {key}')
    for key, src_shape, dst_shape in check['mismatched']:
        print(f'  shape mismatch: {key} checkpoint {src_shape} vs model {dst_shape}')
    has_dp = any(k.startswith('roi_head.densepose') for k in state)
    for note in config_notes(cfg, has_dp):
        print(f'  config note: {note}')
    result['check'] = check
    for name, found in check.items():
        if found:
            problems.append(f'{len(found)} {name} model keys')
    if problems and not args.allow_partial:
        _refuse(args.dst, problems)
    if problems:
        print('--allow-partial: writing despite ' + '; '.join(problems))

    mean = result['pixel_mean'] or DETECTRON2_PIXEL_MEAN
    std = result['pixel_std'] or DETECTRON2_PIXEL_STD
    if result['hrnet']:  # HRFPN: size_divisibility 0, any input size
        pad, model = 1, "backbone=dict(type='D2HRNet'), neck=dict(type='D2HRFPN')"
    else:
        pad, model = 32, ("backbone=dict(style='caffe')  # STRIDE_IN_1X1=True "
                          '(MSRA-initialised models)')
    print('detectron2 input settings for the config:\n'
          f"  data_preprocessor=dict(type='DetDataPreprocessor', mean={mean}, std={std}, "
          f'bgr_to_rgb=False, pad_size_divisor={pad})\n  {model}')
    out_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(out_dir, exist_ok=True)
    meta = dict(converted_from=sources, source='detectron2', config=args.config,
                pixel_mean=mean, pixel_std=std, dataset_meta=dict(classes=('person', )))
    torch.save(dict(state_dict=state, meta=meta), args.dst)
    print(f'saved {len(state)} tensors to {args.dst}')
    return result


if __name__ == '__main__':
    main()
