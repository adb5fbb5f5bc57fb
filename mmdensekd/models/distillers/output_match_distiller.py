# Copyright (c) mmdensekd contributors. All rights reserved.
"""What is matched between teacher and student, by which loss and weight.

The distiller knows no architecture: features are module paths of
``named_modules()`` (with an optional output index) and output-level terms go
through a public ``forward_branches(x, rois, names)`` method of a head whose
path the config names.
"""
import copy
from typing import Dict, List, Optional, Sequence, Set, Tuple

import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmdensekd.registry import MODELS

from .feature_recorder import FeatureRecorder, parse_feature_name

ROLES = ('student', 'teacher')
ROI_SOURCES = ('gt', 'teacher')
#: Keys that would weight a term a second time next to its ``loss_weight``.
_SECOND_WEIGHT_KEYS = ('weight', 'scale', 'loss_scale')


def _module(model: nn.Module, path: str, what: str, role: str) -> nn.Module:
    modules = dict(model.named_modules())
    if path not in modules or path == '':
        top = sorted({n.split('.')[0] for n in modules if n})
        raise ValueError(f'{what}: the {role} ({type(model).__name__}) has no module {path!r} '
                         f'(top-level modules {top})')
    return modules[path]


@MODELS.register_module()
class OutputMatchDistiller(nn.Module):
    """Distillation losses between recorded teacher and student outputs.

    (Named for what it does: it matches outputs by module path or branch
    name. mmrazor's ``ConfigurableDistiller`` has another schema, so this is
    not called that; the name was dropped with no alias, as no checkpoint
    stores it.)

    ``distill_losses`` maps a loss name (must contain ``'loss'``, no ``'.'``)
    to a loss config (``type``, ``loss_weight`` and the loss's own
    arguments) plus:

    * ``student`` / ``teacher``: what is matched, either feature names, a
      string or a list (one per level, same length on both sides): a module
      path of ``named_modules()`` with an optional output index, e.g.
      ``'neck.0'`` (first element of the neck's tuple output) or
      ``'neck.fpn_convs.0'``; or a branch output ``dict(branch='densepose')``
      produced by ``<branch_head>.forward_branches(x, rois, [name])`` with
      ``x`` the output of the module ``branch_inputs``, on the same RoIs for
      both models (``roi_source``).
    * ``connector`` (features only, optional):
      ``dict(in_channels=..., out_channels=...)``, a trainable 1x1 conv per
      student level.

    The weight of a term is its loss's ``loss_weight`` and nothing else;
    ``weight`` / ``scale`` next to it are an error. The only other factor is
    the schedule of ``DistillLossWeightHook`` (:meth:`set_loss_scale`).

    Args:
        distill_losses (dict): Loss name -> config, as above.
        branch_head (str, optional): Module path of the head with
            ``forward_branches`` (e.g. ``'roi_head'``); required by branch
            terms.
        branch_inputs (str, optional): Module path whose (tuple) output is
            the head's multi-level input (e.g. ``'neck'``); required by
            branch terms.
        roi_source (str): RoIs of branch terms: the (pseudo) ground-truth
            boxes ``'gt'`` or the teacher's detections ``'teacher'``.
            Defaults to ``'gt'``.
        roi_score_thr (float): Minimum score of teacher RoIs. Defaults to 0.5.
        max_rois_per_img (int): RoIs per image for branch terms.
            Defaults to 32.
    """

    def __init__(self,
                 distill_losses: Optional[dict] = None,
                 branch_head: Optional[str] = None,
                 branch_inputs: Optional[str] = None,
                 roi_source: str = 'gt',
                 roi_score_thr: float = 0.5,
                 max_rois_per_img: int = 32) -> None:
        super().__init__()
        if roi_source not in ROI_SOURCES:
            raise ValueError(f'roi_source must be one of {ROI_SOURCES}, got {roi_source!r}')
        if int(max_rois_per_img) <= 0:
            raise ValueError(f'max_rois_per_img must be > 0, got {max_rois_per_img}')
        self.branch_head = branch_head
        self.branch_inputs = branch_inputs
        self.roi_source = roi_source
        self.roi_score_thr = float(roi_score_thr)
        self.max_rois_per_img = int(max_rois_per_img)
        self.distill_losses = nn.ModuleDict()
        self.connectors = nn.ModuleDict()
        self._mappings: Dict[str, dict] = {}
        for key, cfg in (distill_losses or {}).items():
            self._add_loss(key, cfg)
        if self.has_branch_losses and not (branch_head and branch_inputs):
            keys = [k for k, m in self._mappings.items() if m['kind'] == 'branch']
            raise ValueError(f'distill_losses {keys} match branch outputs: set branch_head '
                             "(e.g. 'roi_head') and branch_inputs (e.g. 'neck')")
        #: Per-loss factor set by ``DistillLossWeightHook`` (schedules / stops).
        self.loss_scales: Dict[str, float] = {k: 1.0 for k in self.distill_losses}
        self._record: Dict[str, Set[str]] = {r: set() for r in ROLES}
        self._parsed: Dict[Tuple[str, str], list] = {}

    # ----------------------------------------------------------------- config
    def _add_loss(self, key: str, cfg: dict) -> None:
        if 'loss' not in key or '.' in key:
            raise ValueError(f"distill_losses key {key!r} must contain 'loss' (so it is "
                             "optimised) and no '.'")
        cfg = copy.deepcopy(dict(cfg))
        twice = [k for k in _SECOND_WEIGHT_KEYS if k in cfg]
        if twice:
            raise ValueError(f'distill_losses[{key!r}] sets {twice[0]!r}: a term is weighted '
                             "once, by its loss's 'loss_weight'")
        specs = {}
        for role in ROLES:
            if role not in cfg:
                raise KeyError(f'distill_losses[{key!r}] has no {role!r} entry')
            specs[role] = self._parse_spec(cfg.pop(role), key, role)
        kinds = {specs[r][0] for r in ROLES}
        if len(kinds) != 1:
            raise ValueError(f'distill_losses[{key!r}]: a branch output must be matched to '
                             f'the same output, got student {specs["student"][1]} and teacher '
                             f'{specs["teacher"][1]}')
        kind = kinds.pop()
        names = {r: specs[r][1] for r in ROLES}
        if kind == 'branch' and names['student'] != names['teacher']:
            raise ValueError(f'distill_losses[{key!r}]: a branch output must be matched to '
                             f'the same output, got {names}')
        if len(names['student']) != len(names['teacher']):
            raise ValueError(f'distill_losses[{key!r}]: {len(names["student"])} student '
                             f'names but {len(names["teacher"])} teacher names')
        connector = cfg.pop('connector', None)
        if connector is not None:
            if kind != 'feature':
                raise ValueError(f'distill_losses[{key!r}]: connector only for features')
            try:
                cin, cout = int(connector['in_channels']), int(connector['out_channels'])
            except (KeyError, TypeError) as e:
                raise ValueError(f'distill_losses[{key!r}].connector needs in_channels and '
                                 f'out_channels, got {connector!r}') from e
            self.connectors[key] = nn.ModuleList(
                nn.Conv2d(cin, cout, 1) for _ in names['student'])
        self.distill_losses[key] = MODELS.build(cfg)
        self._mappings[key] = dict(kind=kind, names=names)

    @staticmethod
    def _parse_spec(value, key: str, role: str) -> Tuple[str, List[str]]:
        """``('feature', [names])`` or ``('branch', [output name])``."""
        if isinstance(value, dict):
            if set(value) != {'branch'} or not isinstance(value['branch'], str):
                raise ValueError(f'distill_losses[{key!r}][{role!r}]: a branch output is '
                                 f"dict(branch='<name>'), got {value!r}")
            return 'branch', [value['branch']]
        names = [value] if isinstance(value, str) else list(value)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f'distill_losses[{key!r}][{role!r}] must be a module path or a '
                             f'non-empty list of them, got {value!r}')
        return 'feature', names

    def prepare(self, student: nn.Module, teacher: nn.Module) -> None:
        """Check every name against the models and collect what to record.

        Args:
            student (nn.Module): The student detector.
            teacher (nn.Module): The teacher detector.

        Raises:
            ValueError: A name matches no module, or the branch head has no
                ``forward_branches``.
        """
        self._record = {r: set() for r in ROLES}
        self._parsed = {}
        for role, model in zip(ROLES, (student, teacher)):
            valid = None
            if self.has_branch_losses:
                head = _module(model, self.branch_head, 'branch_head', role)
                if not callable(getattr(head, 'forward_branches', None)):
                    raise ValueError(f'branch_head: the {role} module {self.branch_head!r} '
                                     f'({type(head).__name__}) has no forward_branches(x, rois, '
                                     'names)')
                valid = getattr(head, 'BRANCH_OUTPUTS', None)
                _module(model, self.branch_inputs, 'branch_inputs', role)
                self._record[role].add(self.branch_inputs)
            for key, m in self._mappings.items():
                if m['kind'] == 'branch':
                    name = m['names'][role][0]
                    if valid is not None and name not in valid:
                        raise ValueError(f'distill_losses[{key!r}]: the {role} '
                                         f'{self.branch_head} has no branch output {name!r} '
                                         f'(valid: {sorted(valid)})')
                    continue
                parsed = [parse_feature_name(model, n, key, role) for n in m['names'][role]]
                self._parsed[(key, role)] = parsed
                self._record[role].update(p for p, _ in parsed)

    # ------------------------------------------------------------- properties
    @property
    def has_branch_losses(self) -> bool:
        """Whether any term matches branch outputs."""
        return any(m['kind'] == 'branch' for m in self._mappings.values())

    @property
    def active(self) -> bool:
        """Whether any term has a non-zero scale (else the teacher may be
        skipped)."""
        return any(s != 0 for s in self.loss_scales.values())

    @property
    def needs_teacher_detections(self) -> bool:
        """Whether the branch terms run on the teacher's detections."""
        return self.active and self.has_branch_losses and self.roi_source == 'teacher'

    def recorded_modules(self, role: str) -> Set[str]:
        """Module paths whose outputs the ``role`` model must record."""
        return set(self._record[role])

    def set_loss_scale(self, scale: float, names: Optional[Sequence[str]] = None) -> None:
        """Scale terms on top of their ``loss_weight`` (schedules / stops).

        Args:
            scale (float): The factor.
            names (Sequence[str], optional): Loss keys; all when None.
        """
        for name in (names if names is not None else list(self.distill_losses)):
            if name not in self.distill_losses:
                raise KeyError(f'unknown distillation loss {name!r}; known: '
                               f'{sorted(self.distill_losses)}')
            self.loss_scales[name] = float(scale)

    # ----------------------------------------------------------------- losses
    def zero_losses(self, ref: Tensor) -> Dict[str, Tensor]:
        """``distill.<name>`` zeros, connected to every connector so each
        trainable parameter gets a (zero) gradient (DDP needs no unused
        parameter).

        Args:
            ref (Tensor): Any tensor on the loss device.

        Returns:
            dict[str, Tensor]: One () zero per term.
        """
        out = {}
        for key in self.distill_losses:
            zero = ref.new_zeros(())
            if key in self.connectors:
                zero = zero + sum(p.sum() for p in self.connectors[key].parameters()) * 0
            out[f'distill.{key}'] = zero
        return out

    def select_rois(self, data_samples: Sequence[DetDataSample],
                    teacher_results: Optional[Sequence[DetDataSample]],
                    device: torch.device) -> Tensor:
        """(R, 5) RoIs ``[batch_idx, x1, y1, x2, y2]`` of the branch terms.

        Args:
            data_samples (Sequence[DetDataSample]): The batch (its
                ``gt_instances`` hold the (pseudo) ground truth).
            teacher_results (Sequence[DetDataSample], optional): Teacher
                predictions in the network-input frame (``roi_source='teacher'``).
            device (torch.device): Device of the RoIs.

        Returns:
            Tensor: (R, 5) RoIs (R = 0 without branch terms).
        """
        if not self.has_branch_losses:
            return torch.zeros((0, 5), device=device)
        boxes = []
        if self.roi_source == 'teacher':
            if teacher_results is None:
                raise ValueError("roi_source='teacher' needs the teacher's detections")
            for res in teacher_results:
                pred: InstanceData = res.pred_instances
                keep = (pred.scores >= self.roi_score_thr).nonzero().squeeze(1)
                keep = keep[pred.scores[keep].argsort(descending=True)][:self.max_rois_per_img]
                boxes.append(get_box_tensor(pred.bboxes)[keep])
        else:
            for ds in data_samples:
                boxes.append(get_box_tensor(ds.gt_instances.bboxes)[:self.max_rois_per_img])
        return bbox2roi([b.to(device).float() for b in boxes])

    def _features(self, rec: FeatureRecorder, key: str, role: str) -> List:
        return [rec.get(p, i, key, role) for p, i in self._parsed[(key, role)]]

    def _branch_outputs(self, model: nn.Module, rec: FeatureRecorder, rois: Tensor,
                        role: str) -> dict:
        names = sorted({m['names'][role][0] for m in self._mappings.values()
                        if m['kind'] == 'branch'})
        head = dict(model.named_modules())[self.branch_head]
        feats = rec.get(self.branch_inputs, None, 'branch_inputs', role)
        feats = tuple(feats) if isinstance(feats, (tuple, list)) else (feats, )
        return head.forward_branches(feats, rois, names)

    def compute_losses(self, student: nn.Module, teacher: nn.Module, s_rec: FeatureRecorder,
                       t_rec: FeatureRecorder, rois: Tensor) -> Dict[str, Tensor]:
        """All terms of one batch, as ``distill.<name>``.

        Args:
            student (nn.Module): The student (its branch head runs with grad).
            teacher (nn.Module): The frozen teacher (run without grad).
            s_rec (FeatureRecorder): Outputs recorded in the student's pass.
            t_rec (FeatureRecorder): Outputs recorded in the teacher's pass.
            rois (Tensor): (R, 5) RoIs of the branch terms
                (:meth:`select_rois`).

        Returns:
            dict[str, Tensor]: ``distill.<name>`` -> weighted, scaled loss.
        """
        losses: Dict[str, Tensor] = {}
        branch: Dict[str, dict] = {}
        if self.has_branch_losses and rois.size(0) > 0:
            branch['student'] = self._branch_outputs(student, s_rec, rois, 'student')
            with torch.no_grad():
                branch['teacher'] = self._branch_outputs(teacher, t_rec, rois, 'teacher')
        for key, loss_fn in self.distill_losses.items():
            m = self._mappings[key]
            if m['kind'] == 'branch':
                if rois.size(0) == 0:
                    # no RoI in the batch: a zero still in the student's graph
                    feats = s_rec.get(self.branch_inputs, None, 'branch_inputs', 'student')
                    feats = feats if isinstance(feats, (tuple, list)) else [feats]
                    losses[f'distill.{key}'] = sum(f.sum() for f in feats) * 0
                    continue
                name = m['names']['student'][0]
                s_out, t_out = branch['student'][name], branch['teacher'][name]
            else:
                s_out = self._features(s_rec, key, 'student')
                t_out = self._features(t_rec, key, 'teacher')
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
            try:
                value = loss_fn(s_out, t_out)
            except ValueError as e:
                raise ValueError(f'distill_losses[{key!r}]: {e}') from e
            losses[f'distill.{key}'] = value * self.loss_scales[key]
        return losses
