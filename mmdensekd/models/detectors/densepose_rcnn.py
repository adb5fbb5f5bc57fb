# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose R-CNN: Faster R-CNN with DensePose (and keypoint) RoI branches."""
import contextlib
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor, nn
from torch.profiler import record_function

from mmdensekd.registry import MODELS

from ..layers.fast_inference import (
    cast_floats,
    inference_autocast,
    resolve_inference_dtype,
    swap_roi_align,
)

#: ``record_function`` labels of the stages of :meth:`DensePoseRCNN.predict`.
STAGE_LABELS = ('backbone', 'neck', 'rpn_head', 'rpn_proposals', 'roi_head')
#: Stages that may run under autocast (``autocast_stages``).
AUTOCAST_STAGES = ('backbone', 'neck', 'rpn_head', 'roi_head')


def _cast_output_hook(module: nn.Module, args: tuple, output):
    return cast_floats(output, torch.float32)


@MODELS.register_module()
class DensePoseRCNN(TwoStageDetector):
    """DensePose R-CNN (Güler et al., 2018) as an mmdet two-stage detector.

    The DensePose and keypoint branches live in the RoI head
    (:class:`~mmdensekd.models.roi_heads.DensePoseRoIHead`); predictions add
    ``densepose`` (and ``keypoints``, ``keypoint_scores``) to
    ``pred_instances``.

    Inference options (``predict`` only; training is unaffected):

    * ``inference_dtype='bf16'`` (or ``'fp16'``): backbone, neck, RPN head
      convolutions and the RoI heads' convolutions / linear layers run under
      ``torch.autocast`` in that dtype (on CPU with AMX, bf16 GEMMs are
      several times faster); RoIAlign, box decoding, NMS, DensePose chart and
      keypoint decoding stay in float32 (the predictors' outputs are cast
      back before decoding, and RoIs are pooled from float32 features so
      their coordinates keep full precision).
    * ``fast_cpu_roi_align=True``: mmcv ``RoIAlign`` layers of the RoI
      extractors are swapped for
      :class:`~mmdensekd.models.layers.FastRoIAlign` (same outputs; a
      vectorised kernel on CPU tensors, mmcv's kernel on CUDA).
    * ``channels_last=True``: inputs are made channels-last (use with
      :func:`~mmdensekd.models.layers.convert_to_channels_last`).
    * ``autocast_stages``: which of :data:`AUTOCAST_STAGES` autocast covers
      (all by default; e.g. keep the backbone in float32 where its bf16
      convolutions are not faster).

    Each stage runs inside a ``torch.profiler.record_function`` range
    named in :data:`STAGE_LABELS`.

    Args:
        backbone, neck, rpn_head, roi_head, train_cfg, test_cfg,
        data_preprocessor, init_cfg: as ``TwoStageDetector``. ``test_cfg``
            may hold ``inference_dtype`` (used when the argument is None).
        inference_dtype (str, optional): ``'fp32'`` (default), ``'bf16'``
            or ``'fp16'``.
        fast_cpu_roi_align (bool): Swap in the fast CPU RoIAlign. Defaults
            to True.
        channels_last (bool): Channels-last inputs. Defaults to False.
        autocast_stages (Sequence[str]): Stages run in ``inference_dtype``.
            Defaults to all of :data:`AUTOCAST_STAGES`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 inference_dtype: Optional[str] = None,
                 fast_cpu_roi_align: bool = True,
                 channels_last: bool = False,
                 autocast_stages: Sequence[str] = AUTOCAST_STAGES) -> None:
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if inference_dtype is None and test_cfg is not None:
            inference_dtype = test_cfg.get('inference_dtype', None)
        self.set_inference_dtype(inference_dtype)
        self.channels_last = bool(channels_last)
        unknown = sorted(set(autocast_stages) - set(AUTOCAST_STAGES))
        if unknown:
            raise ValueError(f'autocast_stages: unknown stages {unknown}; valid: '
                             f'{list(AUTOCAST_STAGES)}')
        self.autocast_stages = tuple(autocast_stages)
        if fast_cpu_roi_align:
            swap_roi_align(self.roi_head)

    # ------------------------------------------------------------ inference
    def set_inference_dtype(self, inference_dtype: Union[None, str, torch.dtype]) -> None:
        """Set the autocast dtype of :meth:`predict` (``'fp32'``/None,
        ``'bf16'``, ``'fp16'``); raises ``ValueError`` on other names."""
        self.autocast_dtype = resolve_inference_dtype(inference_dtype)

    @property
    def inference_dtype(self) -> str:
        """``'fp32'``, ``'bf16'`` or ``'fp16'``."""
        return {None: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16'}[self.autocast_dtype]

    def _autocast(self, device: torch.device, stage: str):
        dtype = self.autocast_dtype if stage in self.autocast_stages else None
        return inference_autocast(device.type, dtype)

    def _float_output_modules(self) -> List[nn.Module]:
        """RoI-head modules whose outputs are decoded (cast back to fp32)."""
        head = self.roi_head
        modules = [getattr(head, 'bbox_head', None)]
        predictor = getattr(head, 'densepose_predictor', None)
        if predictor is not None:
            # The predictor's convolutions, so that its upsampling runs in fp32.
            convs = [m for m in predictor.modules()
                     if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
            modules += convs or [predictor]
        keypoint_head = getattr(head, 'keypoint_head', None)
        if keypoint_head is not None:
            modules.append(getattr(keypoint_head, 'deconv', keypoint_head))
        return [m for m in modules if m is not None]

    @contextlib.contextmanager
    def _roi_head_autocast(self, device: torch.device) -> Iterator[None]:
        if self.autocast_dtype is None or 'roi_head' not in self.autocast_stages:
            yield
            return
        handles = [m.register_forward_hook(_cast_output_hook)
                   for m in self._float_output_modules()]
        try:
            with self._autocast(device, 'roi_head'):
                yield
        finally:
            for h in handles:
                h.remove()

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """Backbone and neck features, each stage in its profiler range
        (float32 unless called inside an autocast context)."""
        return self._extract_feat(batch_inputs, autocast=False)

    def _extract_feat(self, batch_inputs: Tensor, autocast: bool) -> Tuple[Tensor]:
        device = batch_inputs.device
        with record_function('backbone'), self._autocast_if(autocast, device, 'backbone'):
            x = self.backbone(batch_inputs)
        if self.with_neck:
            if autocast and 'neck' not in self.autocast_stages:
                x = cast_floats(x)  # a float32 stage after a reduced-precision one
            with record_function('neck'), self._autocast_if(autocast, device, 'neck'):
                x = self.neck(x)
        return x

    def _autocast_if(self, enabled: bool, device: torch.device, stage: str):
        return self._autocast(device, stage) if enabled else contextlib.nullcontext()

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections with DensePose charts (and keypoints), as
        ``TwoStageDetector.predict``, in :attr:`inference_dtype`.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) normalised images.
            batch_data_samples (list[DetDataSample]): Samples with metainfo
                (and optional ``proposals``).
            rescale (bool): Express the results in the original image
                frame. Defaults to True.

        Returns:
            list[DetDataSample]: The samples with ``pred_instances``
            (float32 boxes, scores, DensePose charts, keypoints).
        """
        if not self.with_bbox:
            raise RuntimeError(f'{type(self).__name__}.predict needs a box head')
        device = batch_inputs.device
        if self.channels_last:
            batch_inputs = batch_inputs.contiguous(memory_format=torch.channels_last)
        x = self._extract_feat(batch_inputs, autocast=True)
        if batch_data_samples[0].get('proposals', None) is None:
            with record_function('rpn_head'), self._autocast(device, 'rpn_head'):
                rpn_outs = self.rpn_head(
                    x if 'rpn_head' in self.autocast_stages else cast_floats(x))
            with record_function('rpn_proposals'):
                rpn_results_list = self.rpn_head.predict_by_feat(
                    *cast_floats(rpn_outs), batch_img_metas=[s.metainfo for s in
                                                             batch_data_samples],
                    rescale=False)
        else:
            rpn_results_list = [s.proposals for s in batch_data_samples]
        # RoIs are pooled from float32 features (mmdet casts the RoIs to the
        # features' dtype); the heads' layers still run under autocast.
        x = cast_floats(x)
        with record_function('roi_head'), self._roi_head_autocast(device):
            results_list = self.roi_head.predict(x, rpn_results_list, batch_data_samples,
                                                 rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results_list)
