# Copyright (c) mmdensekd contributors. All rights reserved.
"""The distillation algorithm: a frozen teacher, a trained student (an image
detector or a :class:`~mmdensekd.models.detectors.CSIDetector`) and the
distiller that computes what is matched between them."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmdensekd.registry import MODELS

from ..detectors.csi_detector import CSIDetector, resolve_cfg_path
from .feature_recorder import FeatureRecorder
from .frozen_model import build_frozen_model, check_module_frozen, frozen_predict
from .output_match_distiller import OutputMatchDistiller
from .pseudo_labeler import PseudoLabeler

ForwardInputs = Union[Tensor, Dict[str, Tensor]]
SUPERVISIONS = ('gt', 'teacher')
#: Keys of former APIs and where they went (error messages).
MOVED_KEYS = {
    'student_loss_weights': "weights live in the student's branch loss configs (e.g. "
    'student.roi_head.densepose_predictor.loss_densepose.loss_weight=0.6, '
    'student.roi_head.keypoint_head.loss_keypoint.loss_weight=0.3); the algorithm only '
    'prefixes names, so this would set a weight twice',
    'distill_losses': "moved into distiller=dict(type='OutputMatchDistiller', "
    'distill_losses=...)',
    'distill_rois': 'moved into distiller (roi_source)',
    'teacher_score_thr': 'moved into distiller (roi_score_thr)',
    'max_distill_rois': 'moved into distiller (max_rois_per_img)',
    'student_mtn': "the student is a model of its own: student=dict(type='CSIDetector', "
    'mtn=<the MTN>, detector=<the detector>)',
    'resize_student_input': 'moved into the student: CSIDetector(resize_to_input_shape=...)',
}

__all__ = ['TeacherStudentDistiller', 'check_module_frozen', 'select_input']


def select_input(inputs: ForwardInputs, key: str, role: str) -> Tensor:
    """The input of one model of the batch.

    Args:
        inputs (Tensor | dict): Preprocessed batch inputs (a tensor counts
            as ``{'img': tensor}``).
        key (str): The model's input key.
        role (str): Name in error messages (``'teacher'``, ...).

    Returns:
        Tensor: ``inputs[key]``.
    """
    if isinstance(inputs, dict):
        if key not in inputs:
            raise KeyError(f'{role}_input_key {key!r} is not in the batch inputs '
                           f'(keys: {sorted(inputs)})')
        return inputs[key]
    if key == 'img':
        return inputs
    raise KeyError(f"{role}_input_key {key!r} needs paired inputs (a dict), but the batch "
                   'inputs are a single tensor (treated as key \'img\')')


@MODELS.register_module()
class TeacherStudentDistiller(BaseModel):
    """A frozen teacher and a trained student that may see different inputs.

    The teacher gets ``inputs[teacher_input_key]`` (the camera frame), the
    student ``inputs[student_input_key]`` (the same frame, or the CSI when the
    student is a :class:`~mmdensekd.models.detectors.CSIDetector`). What is
    matched, by which loss and weight, is the ``distiller``'s
    (:class:`OutputMatchDistiller`); feature names are module paths of the
    student's detector (``student.detector`` of a CSIDetector). Losses are
    returned as ``student.<name>`` (the student's own losses, whose weights
    are the ``loss_weight`` of its branch loss configs) and
    ``distill.<name>``. ``predict`` / ``val_step`` are the student's;
    :meth:`teacher_val_step` is the teacher's (``DistillValLoop``).

    With ``supervision='teacher'`` the student trains on pseudo-labels made
    online by the :class:`PseudoLabeler` from the teacher's and every
    ``extra_teachers`` model's confident predictions.

    Args:
        student (dict): The student model config (an image
            detector or a ``CSIDetector``); ``dict(cfg_path=PATH,
            **overrides)`` names it by config file
            (:func:`~mmdensekd.models.detectors.csi_detector.resolve_cfg_path`).
        teacher (dict, optional): The teacher detector config.
        teacher_cfg (str, optional): Config file whose ``model`` is the
            teacher (instead of ``teacher``).
        teacher_ckpt (str, optional): Local checkpoint of the teacher.
            Required unless ``allow_uninitialized_teacher``.
        allow_uninitialized_teacher (bool): Allow missing checkpoints (tests
            only). Defaults to False.
        extra_teachers (list[dict], optional): Further frozen teachers for
            pseudo-labels only (see :class:`PseudoLabeler`).
        teacher_input_key (str): Key of the teacher's input. Defaults to
            ``'img'``.
        student_input_key (str): Key of the student's input. Defaults to
            ``'img'``.
        distiller (dict, optional): The distiller config (default type
            ``OutputMatchDistiller``); None = no distillation term.
        supervision (str): ``'gt'`` or ``'teacher'`` (online pseudo-labels).
            Defaults to ``'gt'``.
        pseudo_label_cfg (dict, optional): See :class:`PseudoLabeler`.
        data_preprocessor (dict, optional): e.g. ``PairedDataPreprocessor``.
            Defaults to the student's ``data_preprocessor``.
        init_cfg (dict, optional): Initialisation config.
        **removed: Keys of former APIs (``student_mtn``,
            ``student_loss_weights``, ``distill_losses``, ...): an error
            naming the key and its new place.
    """

    # 2: connectors under distiller.; 3: student_mtn.* -> student.mtn.*,
    # student.* -> student.detector.* (CSI students), extra_teachers.* ->
    # pseudo_labeler.teachers.*
    _version = 3

    def __init__(self,
                 student: dict,
                 teacher: Optional[dict] = None,
                 teacher_cfg: Optional[str] = None,
                 teacher_ckpt: Optional[str] = None,
                 allow_uninitialized_teacher: bool = False,
                 extra_teachers: Optional[Sequence[dict]] = None,
                 teacher_input_key: str = 'img',
                 student_input_key: str = 'img',
                 distiller: Optional[dict] = None,
                 supervision: str = 'gt',
                 pseudo_label_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **removed) -> None:
        for key in removed:
            if key in MOVED_KEYS:
                raise ValueError(f'TeacherStudentDistiller: {key!r} is not accepted: '
                                 f'{MOVED_KEYS[key]}')
        if removed:
            raise TypeError(f'TeacherStudentDistiller got unexpected keys {sorted(removed)}')
        student = resolve_cfg_path(student, 'student')
        if data_preprocessor is None:
            data_preprocessor = student.get('data_preprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if supervision not in SUPERVISIONS:
            raise ValueError(f'supervision must be one of {SUPERVISIONS}, got {supervision!r}')
        if extra_teachers and supervision != 'teacher':
            raise ValueError("extra_teachers only make pseudo-labels: set supervision='teacher'")
        self.teacher = build_frozen_model(teacher, teacher_cfg, teacher_ckpt,
                                          allow_uninitialized_teacher, 'teacher')
        self.pseudo_labeler = PseudoLabeler(extra_teachers, teacher_input_key,
                                            pseudo_label_cfg, allow_uninitialized_teacher)
        # the algorithm's data preprocessor prepares the batch
        student.pop('data_preprocessor', None)
        self.student = MODELS.build(student)
        distiller = dict(distiller or {})
        distiller.setdefault('type', OutputMatchDistiller.__name__)
        self.distiller = MODELS.build(distiller)
        self.distiller.prepare(self.student_detector, self.teacher)
        self.teacher_input_key = teacher_input_key
        self.student_input_key = student_input_key
        self.supervision = supervision

    # ------------------------------------------------------------ bookkeeping
    @property
    def student_detector(self) -> nn.Module:
        """The student's detector (``student.detector`` of a CSIDetector):
        the module whose paths the distiller names."""
        return self.student.detector if isinstance(self.student, CSIDetector) else self.student

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
        ``pseudo_labeler.teachers.0``, ...)."""
        out = {'teacher': self.teacher}
        out.update({f'pseudo_labeler.teachers.{i}': t
                    for i, t in enumerate(self.pseudo_labeler.teachers)})
        return out

    def init_weights(self) -> None:
        """Initialise everything except the (checkpoint-loaded) teachers."""
        for name, child in self.named_children():
            if name not in ('teacher', 'pseudo_labeler') and hasattr(child, 'init_weights'):
                child.init_weights()

    def train(self, mode: bool = True) -> 'TeacherStudentDistiller':
        """Set train mode on the student; the teachers always stay in eval."""
        super().train(mode)
        self.teacher.eval()
        return self

    def set_distill_loss_scale(self, scale: float, names: Optional[Sequence[str]] = None) -> None:
        """Scale distillation terms (``DistillLossWeightHook``); see
        :meth:`OutputMatchDistiller.set_loss_scale`."""
        self.distiller.set_loss_scale(scale, names)

    def check_teacher_frozen(self) -> None:
        """Raise RuntimeError when a teacher parameter trains or a teacher
        module is in train mode (see :func:`check_module_frozen`)."""
        for name, module in self.teachers().items():
            check_module_frozen(module, name)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        """Rename the keys of checkpoints of former versions (see
        ``_version``)."""
        version = (local_metadata or {}).get('version', 1)

        def rename(old: str, new: str, skip: str = '') -> None:
            for key in [k for k in state_dict if k.startswith(prefix + old)]:
                if skip and key.startswith(prefix + skip):
                    continue
                state_dict[prefix + new + key[len(prefix + old):]] = state_dict.pop(key)

        if version < 2:
            rename('connectors.', 'distiller.connectors.')
        if version < 3:
            if isinstance(self.student, CSIDetector):
                rename('student.', 'student.detector.')
                rename('student_mtn.', 'student.mtn.')
            rename('extra_teachers.', 'pseudo_labeler.teachers.')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    # ---------------------------------------------------------------- forward
    def forward(self,
                inputs: ForwardInputs,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor'):
        """Dispatch on ``mode`` (``'loss'``, ``'predict'``, ``'tensor'``);
        ``'predict'`` and ``'tensor'`` are the student's."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            s_input = select_input(inputs, self.student_input_key, 'student')
            return self.student(s_input, data_samples, mode='tensor')
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    def predict(self,
                inputs: ForwardInputs,
                data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """The student's predictions (the teacher's: :meth:`teacher_val_step`)."""
        s_input = select_input(inputs, self.student_input_key, 'student')
        return self.student.predict(s_input, data_samples, rescale=rescale)

    def teacher_val_step(self, data: Union[dict, tuple, list]) -> List[DetDataSample]:
        """The teacher's predictions of a validation batch (the counterpart of
        ``val_step``, which gives the student's).

        Args:
            data (dict | tuple | list): A batch from the dataloader.

        Returns:
            list[DetDataSample]: The teacher's rescaled predictions.
        """
        data = self.data_preprocessor(data, False)
        img = select_input(data['inputs'], self.teacher_input_key, 'teacher')
        with torch.no_grad():
            return self.teacher.predict(img, data['data_samples'])

    def loss(self, inputs: ForwardInputs, data_samples: List[DetDataSample]) -> dict:
        """Student losses (``student.*``) and distillation losses
        (``distill.*``) of one batch."""
        distiller = self.distiller
        active = distiller.active
        t_rec = FeatureRecorder(self.teacher, distiller.recorded_modules('teacher'))
        t_results = None
        if active or self.supervision == 'teacher':
            img = select_input(inputs, self.teacher_input_key, 'teacher')
            with torch.no_grad(), t_rec.record():
                if self.supervision == 'teacher' or distiller.needs_teacher_detections:
                    t_results = frozen_predict(self.teacher, img, data_samples)
                else:
                    self.teacher.extract_feat(img)
            if self.supervision == 'teacher':
                extra = [select_input(inputs, key, 'extra teacher')
                         for key in self.pseudo_labeler.input_keys]
                data_samples = self.pseudo_labeler.label(t_results, extra, data_samples)
        s_input = select_input(inputs, self.student_input_key, 'student')
        s_rec = FeatureRecorder(self.student_detector, distiller.recorded_modules('student'))
        with s_rec.record():
            s_losses = self.student.loss(s_input, data_samples)
        losses = {f'student.{k}': v for k, v in s_losses.items()}
        if not active:
            losses.update(distiller.zero_losses(s_input))
            return losses
        rois = distiller.select_rois(data_samples, t_results, s_input.device)
        losses.update(
            distiller.compute_losses(self.student_detector, self.teacher, s_rec, t_rec, rois))
        return losses
