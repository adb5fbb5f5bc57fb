# Copyright (c) mmdensekd contributors. All rights reserved.
"""Teacher-student distillation with different inputs for teacher and student."""
import copy
import fnmatch
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor, nn

from mmdensekd.registry import MODELS

from .feature_recorder import OUTPUT_NAMES, FeatureRecorder, parse_feature_name
from .pseudo_labels import make_pseudo_label_samples

ForwardInputs = Union[Tensor, Dict[str, Tensor]]
SUPERVISIONS = ('gt', 'teacher')
ROI_SOURCES = ('gt', 'teacher')
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
_OUTPUT_KEYS = {
    'densepose': ('_densepose_forward', 'dp_output'),
    'densepose_feats': ('_densepose_forward', 'dp_feats'),
    'keypoint': ('_keypoint_forward', 'kpt_heatmaps'),
    'keypoint_feats': ('_keypoint_forward', 'kpt_feats'),
}


def check_module_frozen(module: nn.Module, name: str = 'teacher') -> None:
    """Raise when ``module`` is not frozen.

    Args:
        module (nn.Module): e.g. the distillation teacher.
        name (str): Name used in the messages. Defaults to ``'teacher'``.

    Raises:
        RuntimeError: A parameter requires grad, or a sub-module is in train
            mode (BatchNorm statistics would update).
    """
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    if trainable:
        raise RuntimeError(f'{name} parameters require grad: {trainable[:5]}')
    training = [n or f'<{name}>' for n, m in module.named_modules() if m.training]
    if training:
        raise RuntimeError(f'{name} modules are in train mode (BatchNorm would update): '
                           f'{training[:5]}')


@MODELS.register_module()
class TeacherStudentDistiller(BaseModel):
    """A frozen teacher and a trained student that may see different inputs.

    The teacher gets ``inputs[teacher_input_key]`` (the camera frame), the
    student ``inputs[student_input_key]`` (the same frame, or CSI through
    ``student_mtn``). Which features/outputs are matched, by which loss and
    with which weight, comes from ``distill_losses``:

    .. code-block:: python

        distill_losses=dict(
            loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1,
                               student=['neck.0', 'neck.1', 'neck.2', 'neck.3'],
                               teacher=['neck.0', 'neck.1', 'neck.2', 'neck.3']),
            loss_dp_kl=dict(type='DensePoseKLLoss', loss_weight=0.1,
                            student='densepose', teacher='densepose'))

    Feature names are module paths with an optional output index
    (``'neck.0'`` = the first FPN level). Output names ``'densepose'``,
    ``'keypoint'`` (and ``'*_feats'``) run both RoI heads'
    ``_densepose_forward`` / ``_keypoint_forward`` on the same RoIs (GT boxes
    or the teacher's detections, ``distill_rois``). An entry may add
    ``connector=dict(in_channels=..., out_channels=...)``: a 1x1 conv per
    level on the student side.

    Losses are returned as ``student.<name>`` (the student's own losses, times
    ``student_loss_weights``) and ``distill.<name>``.

    Args:
        student (dict): The student detector config (e.g. DensePoseRCNN).
        teacher (dict, optional): The teacher detector config.
        teacher_cfg (str, optional): Path to a config file whose ``model`` is
            the teacher (instead of ``teacher``); a relative path is looked up
            from the working directory, then from the repository root.
        teacher_ckpt (str, optional): Local checkpoint of the teacher.
            Required unless ``allow_uninitialized_teacher``.
        allow_uninitialized_teacher (bool): Allow ``teacher_ckpt=None``
            (tests only). Defaults to False.
        student_mtn (dict, optional): Modality translation network applied to
            the student input, ``(B, 2, *shape)`` split into amplitude and
            phase, giving an image-like (B, 3, H, W) tensor.
        teacher_input_key (str): Key of the teacher's input. Defaults to
            ``'img'``.
        student_input_key (str): Key of the student's input. Defaults to
            ``'img'``.
        distill_losses (dict, optional): name -> loss config with ``student``,
            ``teacher`` (name or list of names) and optional ``connector``.
        student_loss_weights (dict, optional): pattern -> factor for the
            student's own losses; a pattern matches a loss key equal to it,
            starting with ``pattern + '_'`` or by ``fnmatch`` (e.g.
            ``dict(loss_densepose=0.6, loss_keypoint=0.3)`` scales
            ``loss_densepose_I/U/V/S``).
        supervision (str): ``'gt'`` or ``'teacher'`` (the teacher's confident
            predictions replace the ground truth). Defaults to ``'gt'``.
        pseudo_label_cfg (dict, optional): Keyword arguments of
            :func:`predictions_to_gt_instances` (``score_thr``,
            ``kpt_score_thr``, ``num_points``).
        distill_rois (str): RoIs for output losses: ``'gt'`` boxes or the
            ``'teacher'``'s detections. Defaults to ``'gt'``.
        teacher_score_thr (float): Score threshold of teacher RoIs.
            Defaults to 0.5.
        max_distill_rois (int): RoIs per image for output losses.
            Defaults to 32.
        resize_student_input (bool): Resize the MTN output to the teacher
            image's (or ``batch_input_shape``'s) size when it differs.
            Defaults to True.
        data_preprocessor (dict, optional): e.g. ``PairedDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 student: dict,
                 teacher: Optional[dict] = None,
                 teacher_cfg: Optional[str] = None,
                 teacher_ckpt: Optional[str] = None,
                 allow_uninitialized_teacher: bool = False,
                 student_mtn: Optional[dict] = None,
                 teacher_input_key: str = 'img',
                 student_input_key: str = 'img',
                 distill_losses: Optional[dict] = None,
                 student_loss_weights: Optional[dict] = None,
                 supervision: str = 'gt',
                 pseudo_label_cfg: Optional[dict] = None,
                 distill_rois: str = 'gt',
                 teacher_score_thr: float = 0.5,
                 max_distill_rois: int = 32,
                 resize_student_input: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if supervision not in SUPERVISIONS:
            raise ValueError(f'supervision must be one of {SUPERVISIONS}, got {supervision!r}')
        if distill_rois not in ROI_SOURCES:
            raise ValueError(f'distill_rois must be one of {ROI_SOURCES}, got {distill_rois!r}')
        self.teacher = self._build_teacher(teacher, teacher_cfg)
        self._load_teacher(teacher_ckpt, allow_uninitialized_teacher)
        self.student = MODELS.build(ConfigDict(student))
        self.student_mtn = (MODELS.build(ConfigDict(student_mtn))
                            if student_mtn is not None else None)
        self.teacher_input_key = teacher_input_key
        self.student_input_key = student_input_key
        self.supervision = supervision
        self.pseudo_label_cfg = dict(pseudo_label_cfg or {})
        self.distill_rois = distill_rois
        self.teacher_score_thr = float(teacher_score_thr)
        self.max_distill_rois = int(max_distill_rois)
        self.resize_student_input = resize_student_input
        self.student_loss_weights = dict(student_loss_weights or {})
        self._student_weights_checked = False
        for pattern, w in self.student_loss_weights.items():
            if not isinstance(w, (int, float)):
                raise TypeError(f'student_loss_weights[{pattern!r}] must be a number, got '
                                f'{type(w).__name__}')
        self._parse_distill_losses(distill_losses or {})
        #: Per-loss factor set by ``DistillLossWeightHook`` (schedules / stops).
        self.distill_loss_scales: Dict[str, float] = {k: 1.0 for k in self.distill_losses}
        #: Which model ``predict`` runs: ``'student'`` or ``'teacher'``.
        self.predict_with = 'student'

    # ------------------------------------------------------------------ build
    @staticmethod
    def _build_teacher(teacher: Optional[dict], teacher_cfg: Optional[str]) -> nn.Module:
        if (teacher is None) == (teacher_cfg is None):
            raise ValueError('give exactly one of teacher (a model dict) and teacher_cfg '
                             '(a config file path)')
        if teacher_cfg is not None:
            path = teacher_cfg
            if not osp.isfile(path) and not osp.isabs(path):
                # 'configs/...' also resolves from the repository root
                path = osp.join(_REPO_ROOT, teacher_cfg)
            if not osp.isfile(path):
                raise FileNotFoundError(f'teacher_cfg: config file not found: {teacher_cfg}')
            teacher = Config.fromfile(path).model
        # ConfigDict: mmdet detectors read train_cfg.rpn etc. as attributes
        return MODELS.build(ConfigDict(teacher))

    def _load_teacher(self, ckpt: Optional[str], allow_none: bool) -> None:
        if ckpt is None:
            if not allow_none:
                raise ValueError('teacher_ckpt is required (a local checkpoint of the teacher); '
                                 'set allow_uninitialized_teacher=True only in tests')
        else:
            if not osp.isfile(ckpt):
                raise FileNotFoundError(f'teacher_ckpt: checkpoint file not found: {ckpt}')
            load_checkpoint(self.teacher, ckpt, map_location='cpu', strict=True,
                            revise_keys=[(r'^module\.', '')])
        self.teacher.requires_grad_(False)
        self.teacher.eval()

    def _parse_distill_losses(self, cfgs: dict) -> None:
        self.distill_losses = nn.ModuleDict()
        self.connectors = nn.ModuleDict()
        self._mappings: Dict[str, dict] = {}
        self._record_modules: Dict[str, set] = {'student': set(), 'teacher': set()}
        for key, cfg in cfgs.items():
            if 'loss' not in key or '.' in key:
                raise ValueError(f"distill_losses key {key!r} must contain 'loss' (so it is "
                                 "optimised) and no '.'")
            cfg = copy.deepcopy(dict(cfg))
            names = {}
            for role, model in (('student', self.student), ('teacher', self.teacher)):
                if role not in cfg:
                    raise KeyError(f'distill_losses[{key!r}] has no {role!r} entry')
                value = cfg.pop(role)
                names[role] = [value] if isinstance(value, str) else list(value)
                if not names[role]:
                    raise ValueError(f'distill_losses[{key!r}][{role!r}] is empty')
            if len(names['student']) != len(names['teacher']):
                raise ValueError(f'distill_losses[{key!r}]: {len(names["student"])} student '
                                 f'names but {len(names["teacher"])} teacher names')
            is_output = [n in OUTPUT_NAMES for n in names['student'] + names['teacher']]
            if any(is_output):
                if len(names['student']) != 1 or names['student'] != names['teacher']:
                    raise ValueError(f'distill_losses[{key!r}]: an output ({OUTPUT_NAMES}) must '
                                     'be matched to the same output, one per entry, got '
                                     f'{names}')
                out = names['student'][0]
                for role, model in (('student', self.student), ('teacher', self.teacher)):
                    method = _OUTPUT_KEYS[out][0]
                    if not hasattr(getattr(model, 'roi_head', None), method):
                        raise ValueError(f'distill_losses[{key!r}]: the {role} '
                                         f'({type(model).__name__}) has no roi_head.{method} '
                                         f'for output {out!r}')
                    self._record_modules[role].add(self._roi_feature_module(model))
                mapping = dict(kind='output', output=out)
            else:
                parsed = {}
                for role, model in (('student', self.student), ('teacher', self.teacher)):
                    parsed[role] = [parse_feature_name(model, n, key, role) for n in names[role]]
                    self._record_modules[role].update(p for p, _ in parsed[role])
                mapping = dict(kind='feature', names=names, **parsed)
            connector = cfg.pop('connector', None)
            if connector is not None:
                if mapping['kind'] != 'feature':
                    raise ValueError(f'distill_losses[{key!r}]: connector only for features')
                try:
                    cin, cout = int(connector['in_channels']), int(connector['out_channels'])
                except (KeyError, TypeError) as e:
                    raise ValueError(f'distill_losses[{key!r}].connector needs in_channels and '
                                     f'out_channels, got {connector!r}') from e
                self.connectors[key] = nn.ModuleList(
                    nn.Conv2d(cin, cout, 1) for _ in names['student'])
            self.distill_losses[key] = MODELS.build(cfg)
            self._mappings[key] = mapping

    @staticmethod
    def _roi_feature_module(model: nn.Module) -> str:
        """The module whose output ``extract_feat`` returns (RoI head input)."""
        return 'neck' if getattr(model, 'with_neck', False) else 'backbone'

    def init_weights(self) -> None:
        """Initialise everything except the (checkpoint-loaded) teacher."""
        for name, child in self.named_children():
            if name != 'teacher' and hasattr(child, 'init_weights'):
                child.init_weights()

    def train(self, mode: bool = True) -> 'TeacherStudentDistiller':
        """Set train mode on the student; the teacher always stays in eval."""
        super().train(mode)
        self.teacher.eval()
        return self

    def set_distill_loss_scale(self, scale: float, names: Optional[Sequence[str]] = None) -> None:
        """Scale distillation terms (used by ``DistillLossWeightHook``).

        Args:
            scale (float): Factor on top of each loss's ``loss_weight``.
            names (Sequence[str], optional): Loss keys; all when None.
        """
        for name in (names if names is not None else list(self.distill_losses)):
            if name not in self.distill_losses:
                raise KeyError(f'unknown distillation loss {name!r}; known: '
                               f'{sorted(self.distill_losses)}')
            self.distill_loss_scales[name] = float(scale)

    def check_teacher_frozen(self) -> None:
        """Raise RuntimeError when a teacher parameter trains or a teacher
        module is in train mode (see :func:`check_module_frozen`)."""
        check_module_frozen(self.teacher, 'teacher')

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
            return self.student._forward(self._student_image(inputs, data_samples), data_samples)
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

    def _distill_active(self) -> bool:
        return any(s != 0 for s in self.distill_loss_scales.values())

    def loss(self, inputs: ForwardInputs, data_samples: List[DetDataSample]) -> dict:
        """Student losses (``student.*``) and distillation losses
        (``distill.*``) of one batch."""
        active = self._distill_active()
        need_teacher = active or self.supervision == 'teacher'
        t_rec = FeatureRecorder(self.teacher, self._record_modules['teacher'])
        t_results = None
        t_feats: Tuple[Tensor, ...] = ()
        if need_teacher:
            img = self._get_input(inputs, self.teacher_input_key, 'teacher')
            with torch.no_grad(), t_rec.record():
                t_feats = self.teacher.extract_feat(img)
                if self.supervision == 'teacher' or (active and self.distill_rois == 'teacher'
                                                     and self._has_output_losses()):
                    t_results = self._teacher_predict(t_feats, data_samples)
            if self.supervision == 'teacher':
                data_samples = make_pseudo_label_samples(t_results, data_samples,
                                                         **self.pseudo_label_cfg)
        s_img = self._student_image(inputs, data_samples)
        s_rec = FeatureRecorder(self.student, self._record_modules['student'])
        with s_rec.record():
            s_losses = self.student.loss(s_img, data_samples)
        losses = self._weight_student_losses(s_losses)
        if not active:
            # zero, but connected to every connector, so all trainable
            # parameters get a (zero) gradient (DDP needs no unused params)
            for key in self.distill_losses:
                losses[f'distill.{key}'] = self._zero_distill_loss(key, s_img)
            return losses
        rois = self._distill_rois(data_samples, t_results, s_img.device)
        cache: Dict[Tuple[str, str], object] = {}
        for key, loss_fn in self.distill_losses.items():
            m = self._mappings[key]
            if m['kind'] == 'feature':
                s_out = [s_rec.get(p, i, key, 'student') for p, i in m['student']]
                t_out = [t_rec.get(p, i, key, 'teacher') for p, i in m['teacher']]
                if key in self.connectors:
                    s_out = [c(f) for c, f in zip(self.connectors[key], s_out)]
                for sn, tn, s, t in zip(m['names']['student'], m['names']['teacher'], s_out,
                                        t_out):
                    if s.dim() > 1 and t.dim() > 1 and s.size(1) != t.size(1):
                        raise ValueError(
                            f'distill_losses[{key!r}]: student {sn!r} has {s.size(1)} channels '
                            f'but teacher {tn!r} has {t.size(1)}; add connector=dict('
                            f'in_channels={s.size(1)}, out_channels={t.size(1)})')
                if len(s_out) == 1:
                    s_out, t_out = s_out[0], t_out[0]
            else:
                out = m['output']
                if rois.size(0) == 0:
                    feats = s_rec.get(self._roi_feature_module(self.student), None, key,
                                      'student')
                    losses[f'distill.{key}'] = sum(f.sum() for f in feats) * 0
                    continue
                s_out = self._roi_output(self.student, s_rec, out, rois, 'student', key, cache)
                with torch.no_grad():
                    t_out = self._roi_output(self.teacher, t_feats, out, rois, 'teacher', key,
                                             cache)
            try:
                value = loss_fn(s_out, t_out)
            except ValueError as e:
                raise ValueError(f'distill_losses[{key!r}]: {e}') from e
            losses[f'distill.{key}'] = value * self.distill_loss_scales[key]
        return losses

    # ---------------------------------------------------------------- helpers
    def _zero_distill_loss(self, key: str, ref: Tensor) -> Tensor:
        """A zero loss in the graph of ``key``'s connector parameters (if any).

        Args:
            key (str): Distillation loss name.
            ref (Tensor): Any tensor on the loss device (dtype / device).

        Returns:
            Tensor: ``()`` zero.
        """
        zero = ref.new_zeros(())
        if key in self.connectors:
            zero = zero + sum(p.sum() for p in self.connectors[key].parameters()) * 0
        return zero

    def _has_output_losses(self) -> bool:
        return any(m['kind'] == 'output' for m in self._mappings.values())

    def _teacher_predict(self, feats: Tuple[Tensor, ...],
                         data_samples: Sequence[DetDataSample]) -> list:
        """Teacher detections (network-input frame) from its features."""
        teacher = self.teacher
        if not (hasattr(teacher, 'rpn_head') and hasattr(teacher, 'roi_head')):
            raise TypeError(f'teacher {type(teacher).__name__} needs rpn_head and roi_head to '
                            "predict RoIs / pseudo-labels (supervision='teacher' or "
                            "distill_rois='teacher')")
        rpn_results = teacher.rpn_head.predict(feats, data_samples, rescale=False)
        return teacher.roi_head.predict(feats, rpn_results, data_samples, rescale=False)

    def _distill_rois(self, data_samples: Sequence[DetDataSample], t_results: Optional[list],
                      device: torch.device) -> Tensor:
        """(R, 5) RoIs ``[batch_idx, x1, y1, x2, y2]`` shared by both heads."""
        if not self._has_output_losses():
            return torch.zeros((0, 5), device=device)
        boxes = []
        if self.distill_rois == 'teacher':
            for res in t_results:
                keep = (res.scores >= self.teacher_score_thr).nonzero().squeeze(1)
                keep = keep[res.scores[keep].argsort(descending=True)][:self.max_distill_rois]
                boxes.append(get_box_tensor(res.bboxes)[keep])
        else:
            for ds in data_samples:
                boxes.append(get_box_tensor(ds.gt_instances.bboxes)[:self.max_distill_rois])
        return bbox2roi([b.to(device).float() for b in boxes])

    def _roi_output(self, model: nn.Module, feats_or_rec, out: str, rois: Tensor, role: str,
                    key: str, cache: dict):
        """Run ``model.roi_head``'s DensePose/keypoint forward on ``rois``."""
        method, field = _OUTPUT_KEYS[out]
        if (role, method) not in cache:
            if isinstance(feats_or_rec, FeatureRecorder):
                feats = feats_or_rec.get(self._roi_feature_module(model), None, key, role)
            else:
                feats = feats_or_rec
            cache[(role, method)] = getattr(model.roi_head, method)(tuple(feats), rois)
        result = cache[(role, method)]
        if field not in result:
            raise KeyError(f'distill_losses[{key!r}]: {role} roi_head.{method} returned no '
                           f'{field!r} (keys: {sorted(result)})')
        return result[field]

    def _weight_student_losses(self, s_losses: dict) -> dict:
        """Prefix the student's losses with ``student.`` and apply
        ``student_loss_weights``."""
        if not self._student_weights_checked:
            loss_keys = [k for k in s_losses if 'loss' in k]
            for pattern in self.student_loss_weights:
                if not any(self._matches(k, pattern) for k in loss_keys):
                    raise KeyError(f'student_loss_weights key {pattern!r} matches none of the '
                                   f"student's losses {sorted(loss_keys)}")
            self._student_weights_checked = True
        out = {}
        for k, v in s_losses.items():
            w = 1.0
            if 'loss' in k:
                for pattern, pw in self.student_loss_weights.items():
                    if self._matches(k, pattern):
                        w = float(pw)
                        break
            if w != 1.0:
                v = [x * w for x in v] if isinstance(v, (list, tuple)) else v * w
            out[f'student.{k}'] = v
        return out

    @staticmethod
    def _matches(key: str, pattern: str) -> bool:
        return (key == pattern or key.startswith(pattern + '_')
                or fnmatch.fnmatchcase(key, pattern))
