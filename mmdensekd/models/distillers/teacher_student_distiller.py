# Copyright (c) mmdensekd contributors. All rights reserved.
"""The distillation algorithm: owns the frozen teacher(s), the student (and
its MTN) and runs both sides; the distiller computes what is matched."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmdensekd.registry import MODELS

from .configurable_distiller import ConfigurableDistiller
from .feature_recorder import FeatureRecorder
from .frozen_model import build_frozen_model, check_module_frozen
from .pseudo_labels import make_pseudo_label_samples, merge_teacher_predictions

ForwardInputs = Union[Tensor, Dict[str, Tensor]]
SUPERVISIONS = ('gt', 'teacher')
#: ``pseudo_label_cfg`` keys of the merge and of the conversion to targets.
MERGE_KEYS = ('match_iou_thr', 'keep_unmatched')
LABEL_KEYS = ('score_thr', 'kpt_score_thr', 'num_points', 'num_keypoints')
#: Keys of the pre-split API and where they went (error messages).
MOVED_KEYS = {
    'student_loss_weights': "weights live in the student's branch loss configs (e.g. "
    'student.roi_head.densepose_predictor.loss_densepose.loss_weight=0.6, '
    'student.roi_head.keypoint_head.loss_weight=0.3); the algorithm only prefixes names, '
    'so this would set a weight twice',
    'distill_losses': "moved into distiller=dict(type='ConfigurableDistiller', "
    'distill_losses=...)',
    'distill_rois': 'moved into distiller (roi_source)',
    'teacher_score_thr': 'moved into distiller (roi_score_thr)',
    'max_distill_rois': 'moved into distiller (max_rois_per_img)',
}

__all__ = ['TeacherStudentDistiller', 'check_module_frozen']


@MODELS.register_module()
class TeacherStudentDistiller(BaseModel):
    """A frozen teacher (plus optional pseudo-label teachers) and a trained
    student that may see different inputs.

    The teacher gets ``inputs[teacher_input_key]`` (the camera frame), the
    student ``inputs[student_input_key]`` (the same frame, or CSI through
    ``student_mtn``). What is matched, by which loss and weight, is the
    ``distiller``'s (:class:`ConfigurableDistiller`); this model only runs the
    two sides with the recorders the distiller asks for. Losses are returned
    as ``student.<name>`` (the student's own losses, unweighted here: their
    weights are the ``loss_weight`` of the student's branch loss configs) and
    ``distill.<name>``.

    With ``supervision='teacher'`` the student trains on pseudo-labels made
    online: the confident predictions of the teacher and of every
    ``extra_teachers`` model (e.g. a Keypoint R-CNN next to a DensePose
    R-CNN), merged per person by greedy box matching
    (:func:`merge_teacher_predictions`), replace the batch's ground truth.

    Args:
        student (dict): The student detector config.
        teacher (dict, optional): The teacher detector config.
        teacher_cfg (str, optional): Config file whose ``model`` is the
            teacher (instead of ``teacher``), relative to the working directory.
        teacher_ckpt (str, optional): Local checkpoint of the teacher.
            Required unless ``allow_uninitialized_teacher``.
        allow_uninitialized_teacher (bool): Allow missing checkpoints (tests
            only). Defaults to False.
        extra_teachers (list[dict], optional): Further frozen teachers for
            pseudo-labels only, each ``dict(cfg=PATH or model=DICT,
            ckpt=PATH, input_key=None, score_thr=None)`` (``input_key``
            defaults to ``teacher_input_key``, ``score_thr`` to
            ``pseudo_label_cfg['score_thr']``).
        student_mtn (dict, optional): Modality translation network applied to
            the student input ``(B, 2, *S)`` (amplitude, phase), giving an
            image-like (B, 3, H, W) tensor.
        teacher_input_key (str): Key of the teacher's input. Defaults to
            ``'img'``.
        student_input_key (str): Key of the student's input. Defaults to
            ``'img'``.
        distiller (dict, optional): The distiller config (default type
            ``ConfigurableDistiller``); None = no distillation term.
        supervision (str): ``'gt'`` or ``'teacher'`` (online pseudo-labels).
            Defaults to ``'gt'``.
        pseudo_label_cfg (dict, optional): ``score_thr`` (0.5),
            ``kpt_score_thr`` (0.0), ``num_points`` (100), ``num_keypoints``
            (17) of :func:`predictions_to_gt_instances`, and ``match_iou_thr``
            (0.5), ``keep_unmatched`` (False) of the multi-teacher merge.
        resize_student_input (bool): Resize the MTN output to the teacher
            image's (or ``batch_input_shape``'s) size when it differs.
            Defaults to True.
        data_preprocessor (dict, optional): e.g. ``PairedDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
        **removed: Keys of the former API (``student_loss_weights``,
            ``distill_losses``, ``distill_rois``, ...): an error naming the
            key and its new place.
    """

    _version = 2

    def __init__(self,
                 student: dict,
                 teacher: Optional[dict] = None,
                 teacher_cfg: Optional[str] = None,
                 teacher_ckpt: Optional[str] = None,
                 allow_uninitialized_teacher: bool = False,
                 extra_teachers: Optional[Sequence[dict]] = None,
                 student_mtn: Optional[dict] = None,
                 teacher_input_key: str = 'img',
                 student_input_key: str = 'img',
                 distiller: Optional[dict] = None,
                 supervision: str = 'gt',
                 pseudo_label_cfg: Optional[dict] = None,
                 resize_student_input: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **removed) -> None:
        for key in removed:
            if key in MOVED_KEYS:
                raise ValueError(f'TeacherStudentDistiller: {key!r} is not accepted: '
                                 f'{MOVED_KEYS[key]}')
        if removed:
            raise TypeError(f'TeacherStudentDistiller got unexpected keys {sorted(removed)}')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if supervision not in SUPERVISIONS:
            raise ValueError(f'supervision must be one of {SUPERVISIONS}, got {supervision!r}')
        if extra_teachers and supervision != 'teacher':
            raise ValueError("extra_teachers only make pseudo-labels: set supervision='teacher'")
        self.teacher = build_frozen_model(teacher, teacher_cfg, teacher_ckpt,
                                          allow_uninitialized_teacher, 'teacher')
        self.extra_teachers = nn.ModuleList()
        self._extra_cfgs: List[dict] = []
        for i, cfg in enumerate(extra_teachers or []):
            cfg = dict(cfg)
            unknown = set(cfg) - {'cfg', 'model', 'ckpt', 'input_key', 'score_thr'}
            if unknown:
                raise ValueError(f'extra_teachers[{i}]: unknown keys {sorted(unknown)}')
            self.extra_teachers.append(
                build_frozen_model(cfg.get('model'), cfg.get('cfg'), cfg.get('ckpt'),
                                   allow_uninitialized_teacher, f'extra_teachers[{i}]'))
            self._extra_cfgs.append(
                dict(input_key=cfg.get('input_key') or teacher_input_key,
                     score_thr=cfg.get('score_thr')))
        self.student = MODELS.build(ConfigDict(student))
        self.student_mtn = (MODELS.build(ConfigDict(student_mtn))
                            if student_mtn is not None else None)
        distiller = dict(distiller or {})
        distiller.setdefault('type', ConfigurableDistiller.__name__)
        self.distiller = MODELS.build(distiller)
        self.distiller.prepare(self.student, self.teacher)
        self.teacher_input_key = teacher_input_key
        self.student_input_key = student_input_key
        self.supervision = supervision
        label_cfg = dict(pseudo_label_cfg or {})
        unknown = set(label_cfg) - set(MERGE_KEYS) - set(LABEL_KEYS)
        if unknown:
            raise ValueError(f'pseudo_label_cfg: unknown keys {sorted(unknown)} (known: '
                             f'{sorted(MERGE_KEYS + LABEL_KEYS)})')
        self.merge_cfg = {k: label_cfg.pop(k) for k in MERGE_KEYS if k in label_cfg}
        label_cfg.setdefault('score_thr', 0.5)
        self.pseudo_label_cfg = label_cfg
        self.resize_student_input = resize_student_input
        #: Which model ``predict`` runs: ``'student'`` or ``'teacher'``.
        self.predict_with = 'student'

    # ------------------------------------------------------------ bookkeeping
    @property
    def distill_losses(self) -> nn.ModuleDict:
        """The distiller's terms (name -> loss module)."""
        return self.distiller.distill_losses

    @property
    def distill_loss_scales(self) -> Dict[str, float]:
        """The distiller's per-term schedule factors."""
        return self.distiller.loss_scales

    def teachers(self) -> Dict[str, nn.Module]:
        """Every frozen model by attribute name (``teacher``,
        ``extra_teachers.0``, ...)."""
        out = {'teacher': self.teacher}
        out.update({f'extra_teachers.{i}': t for i, t in enumerate(self.extra_teachers)})
        return out

    def init_weights(self) -> None:
        """Initialise everything except the (checkpoint-loaded) teachers."""
        for name, child in self.named_children():
            if name not in ('teacher', 'extra_teachers') and hasattr(child, 'init_weights'):
                child.init_weights()

    def train(self, mode: bool = True) -> 'TeacherStudentDistiller':
        """Set train mode on the student; the teachers always stay in eval."""
        super().train(mode)
        self.teacher.eval()
        self.extra_teachers.eval()
        return self

    def set_distill_loss_scale(self, scale: float, names: Optional[Sequence[str]] = None) -> None:
        """Scale distillation terms (``DistillLossWeightHook``); see
        :meth:`ConfigurableDistiller.set_loss_scale`."""
        self.distiller.set_loss_scale(scale, names)

    def check_teacher_frozen(self) -> None:
        """Raise RuntimeError when a teacher parameter trains or a teacher
        module is in train mode (see :func:`check_module_frozen`)."""
        for name, module in self.teachers().items():
            check_module_frozen(module, name)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        """Version 1 kept the connectors at ``connectors.*``; now they are
        ``distiller.connectors.*``."""
        if (local_metadata or {}).get('version', 1) < 2:
            for key in [k for k in state_dict if k.startswith(prefix + 'connectors.')]:
                new = prefix + 'distiller.' + key[len(prefix):]
                state_dict[new] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    # ----------------------------------------------------------------- inputs
    def _get_input(self, inputs: ForwardInputs, key: str, role: str) -> Tensor:
        if isinstance(inputs, dict):
            if key not in inputs:
                raise KeyError(f'{role}_input_key {key!r} is not in the batch inputs '
                               f'(keys: {sorted(inputs)})')
            return inputs[key]
        if key == 'img':
            return inputs
        raise KeyError(f"{role}_input_key {key!r} needs paired inputs (a dict), but the batch "
                       'inputs are a single tensor (treated as key \'img\')')

    def _student_image(self, inputs: ForwardInputs,
                       data_samples: Optional[Sequence[DetDataSample]]) -> Tensor:
        """The student's image-like input (B, 3, H, W)."""
        x = self._get_input(inputs, self.student_input_key, 'student')
        if self.student_mtn is None:
            return x
        if x.dim() < 2 or x.size(1) != 2:
            raise ValueError(f'student_mtn expects inputs[{self.student_input_key!r}] of shape '
                             f'(B, 2, ...) = stacked (amplitude, phase), got {tuple(x.shape)}')
        img = self.student_mtn(x[:, 0], x[:, 1])
        if self.resize_student_input:
            size = None
            if isinstance(inputs, dict) and self.teacher_input_key in inputs:
                size = tuple(inputs[self.teacher_input_key].shape[-2:])
            elif data_samples and 'batch_input_shape' in data_samples[0].metainfo:
                size = tuple(data_samples[0].batch_input_shape)
            if size is not None and tuple(img.shape[-2:]) != size:
                img = F.interpolate(img, size=size, mode='bilinear', align_corners=False)
        return img

    # ---------------------------------------------------------------- forward
    def forward(self,
                inputs: ForwardInputs,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor'):
        """Dispatch on ``mode`` (``'loss'``, ``'predict'``, ``'tensor'``)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.student(self._student_image(inputs, data_samples), data_samples,
                                mode='tensor')
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    def predict(self,
                inputs: ForwardInputs,
                data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Predictions of the student (or the teacher when ``predict_with`` is
        ``'teacher'``, as set by ``DistillValLoop``)."""
        if self.predict_with == 'teacher':
            with torch.no_grad():
                img = self._get_input(inputs, self.teacher_input_key, 'teacher')
                return self.teacher.predict(img, data_samples, rescale=rescale)
        if self.predict_with != 'student':
            raise ValueError(f"predict_with must be 'student' or 'teacher', got "
                             f'{self.predict_with!r}')
        return self.student.predict(
            self._student_image(inputs, data_samples), data_samples, rescale=rescale)

    @staticmethod
    def _frozen_predict(model: nn.Module, img: Tensor,
                        data_samples: Sequence[DetDataSample]) -> List[DetDataSample]:
        """Detections of a frozen model in the network-input frame (the
        batch's samples are not modified)."""
        fresh = [DetDataSample(metainfo=ds.metainfo) for ds in data_samples]
        return model.predict(img, fresh, rescale=False)

    def _pseudo_label_samples(self, inputs: ForwardInputs, data_samples: List[DetDataSample],
                              t_results: List[DetDataSample]) -> List[DetDataSample]:
        """The batch with merged teacher predictions as its ground truth."""
        per_teacher = [t_results]
        thr = self.pseudo_label_cfg['score_thr']
        thrs = [thr]
        with torch.no_grad():
            for model, cfg in zip(self.extra_teachers, self._extra_cfgs):
                img = self._get_input(inputs, cfg['input_key'], 'extra teacher')
                per_teacher.append(self._frozen_predict(model, img, data_samples))
                thrs.append(thr if cfg['score_thr'] is None else cfg['score_thr'])
        merged = [
            merge_teacher_predictions([res[b].pred_instances for res in per_teacher], thrs,
                                      iou_thr=self.merge_cfg.get('match_iou_thr', 0.5),
                                      keep_unmatched=self.merge_cfg.get('keep_unmatched', False))
            for b in range(len(data_samples))
        ]
        # the merge applied each teacher's threshold already
        label_cfg = dict(self.pseudo_label_cfg, score_thr=float('-inf'))
        return make_pseudo_label_samples(merged, data_samples, **label_cfg)

    def loss(self, inputs: ForwardInputs, data_samples: List[DetDataSample]) -> dict:
        """Student losses (``student.*``) and distillation losses
        (``distill.*``) of one batch."""
        distiller = self.distiller
        active = distiller.active
        t_rec = FeatureRecorder(self.teacher, distiller.recorded_modules('teacher'))
        t_results = None
        if active or self.supervision == 'teacher':
            img = self._get_input(inputs, self.teacher_input_key, 'teacher')
            with torch.no_grad(), t_rec.record():
                if self.supervision == 'teacher' or distiller.needs_teacher_detections:
                    t_results = self._frozen_predict(self.teacher, img, data_samples)
                else:
                    self.teacher.extract_feat(img)
            if self.supervision == 'teacher':
                data_samples = self._pseudo_label_samples(inputs, data_samples, t_results)
        s_img = self._student_image(inputs, data_samples)
        s_rec = FeatureRecorder(self.student, distiller.recorded_modules('student'))
        with s_rec.record():
            s_losses = self.student.loss(s_img, data_samples)
        losses = {f'student.{k}': v for k, v in s_losses.items()}
        if not active:
            losses.update(distiller.zero_losses(s_img))
            return losses
        rois = distiller.select_rois(data_samples, t_results, s_img.device)
        losses.update(distiller.compute_losses(self.student, self.teacher, s_rec, t_rec, rois))
        return losses
