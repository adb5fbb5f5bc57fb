# Copyright (c) mmdensekd contributors. All rights reserved.
"""Build a model from a config and run it on images (used by the demos).

Written without ``mmdet.apis`` / ``mmpose.apis`` so that inference never
imports torchvision.
"""
import copy
import inspect
import os.path as osp
import re
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torch import nn

from mmdensekd.registry import DATASETS, MODELS, TRANSFORMS
from mmdensekd.utils import register_all_modules
from mmdensekd.utils.checkpoint_compat import fit_state_dict, read_checkpoint

from .student import extract_student_state_dict, is_distill_config

ImageType = Union[str, Path, np.ndarray]
ImagesType = Union[ImageType, Sequence[ImageType]]

#: Used when neither the checkpoint nor the config's dataset gives classes.
DEFAULT_DATASET_META = dict(classes=('person', ))

#: Transforms that read ground truth; inference has none, so they are dropped.
_ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadDensePoseAnnotations')


def _as_config(config: Union[str, Path, Config]) -> Config:
    if isinstance(config, (str, Path)):
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'config file {config} does not exist')
        return Config.fromfile(str(config))
    if isinstance(config, Config):
        return copy.deepcopy(config)
    raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')


def _dataset_meta_from_config(cfg: Config) -> Optional[dict]:
    """The ``METAINFO`` of the test dataset class named in ``cfg``."""
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset', {})
    dataset_type = dataset_cfg.get('type') if hasattr(dataset_cfg, 'get') else None
    if not isinstance(dataset_type, str):
        return None
    dataset_cls = DATASETS.get(dataset_type)
    meta = getattr(dataset_cls, 'METAINFO', None)
    return copy.deepcopy(dict(meta)) if meta else None


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[Union[str, Path]] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               inference_dtype: Optional[str] = None,
               allow_partial: bool = False) -> nn.Module:
    """Build a model from a config and load a local checkpoint.

    The backbone's pretrained ``init_cfg`` is removed (weights come from
    ``checkpoint``, nothing is downloaded) and the model is put in eval mode.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str | Path, optional): Local checkpoint file. Without it
            the model keeps its random initialisation (useful in tests). A
            distillation checkpoint given with the student's config
            (:func:`~mmdensekd.apis.student_config`) loads its ``student.``
            weights.
        device (str | torch.device): Device of the model. Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config
            (``Config.merge_from_dict`` keys, e.g. ``'model.test_cfg.rcnn.score_thr'``).
        inference_dtype (str, optional): ``'fp32'``, ``'bf16'`` or ``'fp16'``:
            prepare the model for fast inference
            (:func:`~mmdensekd.models.layers.optimize_for_inference`: that
            autocast dtype, BatchNorm folded into the convolutions). None
            (default) leaves the model as built.
        allow_partial (bool): Load only the weights that fit instead of
            raising when the checkpoint lacks model keys or has other shapes
            (a checkpoint of another architecture). Defaults to False.

    Returns:
        nn.Module: The model, with ``model.cfg`` (the config) and
        ``model.dataset_meta`` (from the checkpoint's ``meta.dataset_meta``,
        else the test dataset's ``METAINFO``, else ``{'classes': ('person',)}``).

    Raises:
        FileNotFoundError: The config or the checkpoint file does not exist
            (remote URLs are not fetched).
    """
    cfg = _as_config(config)
    if cfg_options is not None:
        if not isinstance(cfg_options, dict):
            raise TypeError(f'cfg_options must be a dict, got {type(cfg_options).__name__}')
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise ValueError('config has no `model` entry')
    if checkpoint is not None and not osp.isfile(str(checkpoint)):
        raise FileNotFoundError(
            f'checkpoint file {checkpoint} does not exist (init_model only reads local '
            'files; download model weights beforehand)')

    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    backbone = cfg.model.get('backbone')
    if isinstance(backbone, dict) and backbone.get('init_cfg') is not None:
        backbone['init_cfg'] = None
    model = MODELS.build(cfg.model)

    dataset_meta = None
    if checkpoint is not None:
        ckpt = read_checkpoint(str(checkpoint), map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        if not is_distill_config(cfg) and any(
                k.startswith(('student.', 'student_mtn.', 'module.student.')) for k in state):
            # a distillation checkpoint (or its student part) loaded into the
            # student's own config
            state = extract_student_state_dict(state)
        state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
        report = fit_state_dict(model, state, str(checkpoint), allow_partial=allow_partial)
        model.load_state_dict({k: state[k] for k in report['matching']}, strict=False)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        dataset_meta = meta.get('dataset_meta') if isinstance(meta, dict) else None
    if not dataset_meta:
        dataset_meta = _dataset_meta_from_config(cfg) or copy.deepcopy(DEFAULT_DATASET_META)
    model.cfg = cfg
    model.dataset_meta = dataset_meta
    model.to(device)
    model.eval()
    if inference_dtype is not None:
        from mmdensekd.models.layers import optimize_for_inference
        optimize_for_inference(model, inference_dtype=inference_dtype, fuse_bn=True)
    return model


def _test_pipeline_cfg(cfg: Config) -> List[dict]:
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset', {})
    pipeline = dataset_cfg.get('pipeline') if hasattr(dataset_cfg, 'get') else None
    if pipeline is None:
        pipeline = cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError('config has neither `test_dataloader.dataset.pipeline` nor '
                         '`test_pipeline`')
    return [copy.deepcopy(dict(t)) for t in pipeline]


def build_test_pipeline(cfg: Config, from_ndarray: bool = False) -> Compose:
    """The config's test pipeline, ready for single images.

    Ground-truth loaders are dropped; with ``from_ndarray`` the image
    loading step is replaced by mmdet's ``LoadImageFromNDArray``.

    Args:
        cfg (Config): Model config.
        from_ndarray (bool): Images come as arrays in ``results['img']``.

    Returns:
        Compose: The pipeline.
    """
    steps = [t for t in _test_pipeline_cfg(cfg)
             if str(t.get('type', '')).split('.')[-1] not in _ANNOTATION_LOADERS]
    if not steps or 'LoadImage' not in str(steps[0].get('type', '')):
        raise ValueError('the test pipeline must start with an image loading transform, '
                         f'got {steps[0] if steps else None}')
    if from_ndarray:
        steps[0] = dict(type='mmdet.LoadImageFromNDArray')
    return Compose([TRANSFORMS.build(t) for t in steps])


def _check_array(img: np.ndarray, index: int) -> None:
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f'image {index}: expected a non-empty (H, W, 3) BGR array, got shape '
                         f'{img.shape}')


def inference_model(model: nn.Module,
                    imgs: ImagesType) -> Union[DetDataSample, List[DetDataSample]]:
    """Run a model built by :func:`init_model` on images.

    Args:
        model (nn.Module): Model with ``model.cfg`` set.
        imgs (str | Path | np.ndarray | Sequence): An image file or a
            (H, W, 3) uint8 BGR array (as ``cv2.imread`` returns), or a list
            of them.

    Returns:
        DetDataSample | list[DetDataSample]: One sample per image (a list
        when a list was given) whose ``pred_instances`` hold ``bboxes``
        (N, 4) xyxy in the original image frame, ``scores`` (N,),
        ``labels`` (N,), ``densepose``
        (:class:`~mmdensekd.structures.DensePoseChartResults`) when the model
        has a DensePose branch, ``keypoints`` (N, K, 2) and
        ``keypoint_scores`` (N, K) when it has a keypoint branch.

    Raises:
        ValueError: ``model.cfg`` is missing or an array is not (H, W, 3).
        FileNotFoundError: An image file does not exist.
    """
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise ValueError('model.cfg is not set; build the model with init_model()')
    is_batch = isinstance(imgs, (list, tuple))
    images = list(imgs) if is_batch else [imgs]
    if not images:
        return []
    for i, img in enumerate(images):
        if isinstance(img, np.ndarray):
            _check_array(img, i)
        elif not isinstance(img, (str, Path)):
            raise TypeError(f'image {i}: expected a path or an ndarray, got {type(img).__name__}')

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    pipelines = {}
    results = []
    for i, img in enumerate(images):
        from_array = isinstance(img, np.ndarray)
        if from_array not in pipelines:
            pipelines[from_array] = build_test_pipeline(cfg, from_ndarray=from_array)
        data = dict(img=img, img_id=i) if from_array else dict(img_path=str(img), img_id=i)
        data = pipelines[from_array](data)
        batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
        with torch.no_grad():
            results.append(model.test_step(batch)[0])
    return results if is_batch else results[0]


def _as_box_tensor(bboxes, name: str, device: torch.device) -> torch.Tensor:
    boxes = torch.as_tensor(np.asarray(bboxes, np.float32) if not isinstance(
        bboxes, torch.Tensor) else bboxes.detach().float().cpu())
    boxes = boxes.reshape(-1, boxes.shape[-1]) if boxes.numel() else boxes.reshape(0, 4)
    if boxes.shape[1] != 4:
        raise ValueError(f'{name} must be (N, 4) xyxy boxes, got shape {tuple(boxes.shape)}')
    if not bool(torch.isfinite(boxes).all()):
        raise ValueError(f'{name} contains non-finite coordinates')
    return boxes.to(device)


def inference_on_boxes(model: nn.Module,
                       img: ImageType,
                       bboxes: Union[np.ndarray, torch.Tensor, Sequence[Sequence[float]]],
                       scores: Optional[Union[np.ndarray, torch.Tensor]] = None,
                       labels: Optional[Union[np.ndarray, torch.Tensor]] = None
                       ) -> DetDataSample:
    """Run the DensePose / keypoint (and refinement) branches on given boxes.

    The top-down path: boxes come from any detector, the model's own RPN and
    box head are not run. The image goes through the model's test pipeline
    and backbone; the boxes are mapped into the network input frame, the RoI
    head's public ``forward_branches`` runs the branches on them, and its
    ``predict_keypoint`` / ``predict_densepose`` decode keypoints and charts
    and express them in the original image frame, in the same order and
    frames as the model's own ``predict`` does for its detections.

    Shape legend: ``N`` boxes, ``K`` keypoints.

    Args:
        model (nn.Module): A model built by :func:`init_model` whose
            ``roi_head`` has a DensePose and / or keypoint branch.
        img (str | Path | np.ndarray): Image file or (H, W, 3) BGR array.
        bboxes (array-like): (N, 4) xyxy boxes in the original image frame.
        scores (array-like, optional): (N,) box scores (kept in the result);
            defaults to ones.
        labels (array-like, optional): (N,) class labels; defaults to zeros.

    Returns:
        DetDataSample: ``pred_instances`` with the given ``bboxes``,
        ``scores``, ``labels`` plus ``densepose``
        (:class:`~mmdensekd.structures.DensePoseChartResults`) and / or
        ``keypoints`` (N, K, 2) and ``keypoint_scores`` (N, K).

    Raises:
        ValueError: ``model.cfg`` is missing, the model has no RoI branch,
            or the boxes / scores / labels have the wrong shape.
    """
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise ValueError('model.cfg is not set; build the model with init_model()')
    roi_head = getattr(model, 'roi_head', None)
    names = []
    if getattr(roi_head, 'with_densepose', False):
        names.append('densepose')
    if getattr(roi_head, 'with_keypoint', False):
        names.append('keypoint')
    if not names:
        raise ValueError(f'{type(model).__name__} has no DensePose or keypoint RoI branch to '
                         'run on given boxes')
    from_array = isinstance(img, np.ndarray)
    if from_array:
        _check_array(img, 0)
    elif not isinstance(img, (str, Path)):
        raise TypeError(f'expected an image path or an ndarray, got {type(img).__name__}')

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    pipeline = build_test_pipeline(cfg, from_ndarray=from_array)
    data = pipeline(dict(img=img, img_id=0) if from_array else dict(img_path=str(img), img_id=0))
    with torch.no_grad():
        batch = model.data_preprocessor(
            dict(inputs=[data['inputs']], data_samples=[data['data_samples']]), False)
        sample = batch['data_samples'][0]
        feats = model.extract_feat(batch['inputs'])
        device = feats[0].device
        boxes = _as_box_tensor(bboxes, 'bboxes', device)
        num = len(boxes)
        result = InstanceData(bboxes=boxes)
        for key, value, default in (('scores', scores, torch.ones(num)),
                                    ('labels', labels, torch.zeros(num, dtype=torch.long))):
            value = default if value is None else torch.as_tensor(np.asarray(value)).reshape(-1)
            if len(value) != num:
                raise ValueError(f'{num} bboxes but {len(value)} {key}')
            result[key] = value.to(device)
        meta = sample.metainfo
        scale = boxes.new_tensor(meta.get('scale_factor', (1.0, 1.0))).repeat(2)
        outputs = {}
        if num:
            branch = roi_head.forward_branches(feats, bbox2roi([boxes * scale]), names)
            # predict_* take the outputs under the RoI head's own keys
            outputs = {roi_head.BRANCH_OUTPUTS[n]: branch[n] for n in names}
        if 'keypoint' in names:
            if 'rescale' in inspect.signature(roi_head.predict_keypoint).parameters:
                # decoded in the network frame, then scaled (as the model's predict)
                result.bboxes = boxes * scale
                roi_head.predict_keypoint(feats, [meta], [result], branch_outputs=outputs,
                                          rescale=True)
                result.bboxes = boxes
            else:
                roi_head.predict_keypoint(feats, [meta], [result], branch_outputs=outputs)
        if 'densepose' in names:
            roi_head.predict_densepose(feats, [meta], [result], branch_outputs=outputs)
    out = DetDataSample(metainfo=meta)
    out.pred_instances = result
    return out
