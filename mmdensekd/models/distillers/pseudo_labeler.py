# Copyright (c) mmdensekd contributors. All rights reserved.
"""Online pseudo ground truth from the teacher and extra frozen teachers."""
from typing import List, Optional, Sequence

from mmdet.structures import DetDataSample
from torch import Tensor, nn

from .frozen_model import build_frozen_model, frozen_predict
from .pseudo_labels import (
    MATCH_IOU_THR,
    SCORE_THR,
    make_pseudo_label_samples,
    merge_teacher_predictions,
)

#: ``pseudo_label_cfg`` keys of the merge and of the conversion to targets.
MERGE_KEYS = ('match_iou_thr', 'keep_unmatched')
LABEL_KEYS = ('score_thr', 'kpt_score_thr', 'num_points', 'num_keypoints')
EXTRA_TEACHER_KEYS = ('cfg', 'model', 'ckpt', 'input_key', 'score_thr')


class PseudoLabeler(nn.Module):
    """Replace a batch's ground truth by the merged confident predictions of
    the teacher and of every extra teacher.

    The predictions of the teachers (e.g. a Keypoint R-CNN next to a
    DensePose R-CNN) are merged per person by greedy box matching
    (:func:`merge_teacher_predictions`), then turned into ground-truth
    instances (:func:`make_pseudo_label_samples`).

    Args:
        extra_teachers (list[dict], optional): Further frozen teachers, each
            ``dict(cfg=PATH or model=DICT, ckpt=PATH, input_key=None,
            score_thr=None)`` (``input_key`` defaults to
            ``default_input_key``, ``score_thr`` to
            ``pseudo_label_cfg['score_thr']``).
        default_input_key (str): Input key of the extra teachers by default.
            Defaults to ``'img'``.
        pseudo_label_cfg (dict, optional): ``score_thr``, ``kpt_score_thr``,
            ``num_points``, ``num_keypoints`` of
            :func:`predictions_to_gt_instances` and ``match_iou_thr``,
            ``keep_unmatched`` of :func:`merge_teacher_predictions` (their
            defaults when absent).
        allow_uninitialized (bool): Allow extra teachers without checkpoint
            (tests only). Defaults to False.
    """

    def __init__(self,
                 extra_teachers: Optional[Sequence[dict]] = None,
                 default_input_key: str = 'img',
                 pseudo_label_cfg: Optional[dict] = None,
                 allow_uninitialized: bool = False) -> None:
        super().__init__()
        self.teachers = nn.ModuleList()
        self.input_keys: List[str] = []
        self.score_thrs: List[Optional[float]] = []
        for i, cfg in enumerate(extra_teachers or []):
            cfg = dict(cfg)
            unknown = set(cfg) - set(EXTRA_TEACHER_KEYS)
            if unknown:
                raise ValueError(f'extra_teachers[{i}]: unknown keys {sorted(unknown)}')
            self.teachers.append(
                build_frozen_model(cfg.get('model'), cfg.get('cfg'), cfg.get('ckpt'),
                                   allow_uninitialized, f'extra_teachers[{i}]'))
            self.input_keys.append(cfg.get('input_key') or default_input_key)
            self.score_thrs.append(cfg.get('score_thr'))
        label_cfg = dict(pseudo_label_cfg or {})
        unknown = set(label_cfg) - set(MERGE_KEYS) - set(LABEL_KEYS)
        if unknown:
            raise ValueError(f'pseudo_label_cfg: unknown keys {sorted(unknown)} (known: '
                             f'{sorted(MERGE_KEYS + LABEL_KEYS)})')
        self.merge_cfg = {k: label_cfg.pop(k) for k in MERGE_KEYS if k in label_cfg}
        label_cfg.setdefault('score_thr', SCORE_THR)
        self.label_cfg = label_cfg

    def train(self, mode: bool = True) -> 'PseudoLabeler':
        """The extra teachers always stay in eval mode."""
        super().train(mode)
        self.teachers.eval()
        return self

    def label(self, teacher_results: List[DetDataSample], extra_inputs: Sequence[Tensor],
              data_samples: List[DetDataSample]) -> List[DetDataSample]:
        """The batch with the merged predictions as its ground truth.

        Args:
            teacher_results (list[DetDataSample]): The main teacher's
                predictions in the network-input frame.
            extra_inputs (Sequence[Tensor]): One input per extra teacher (at
                its ``input_keys``).
            data_samples (list[DetDataSample]): The batch (metainfo kept).

        Returns:
            list[DetDataSample]: New samples with pseudo ``gt_instances``.
        """
        if len(extra_inputs) != len(self.teachers):
            raise ValueError(f'{len(extra_inputs)} inputs for {len(self.teachers)} extra '
                             'teachers')
        thr = self.label_cfg['score_thr']
        per_teacher = [teacher_results]
        thrs = [thr]
        for model, img, t_thr in zip(self.teachers, extra_inputs, self.score_thrs):
            per_teacher.append(frozen_predict(model, img, data_samples))
            thrs.append(thr if t_thr is None else t_thr)
        merged = [
            merge_teacher_predictions([res[b].pred_instances for res in per_teacher], thrs,
                                      iou_thr=self.merge_cfg.get('match_iou_thr', MATCH_IOU_THR),
                                      keep_unmatched=self.merge_cfg.get('keep_unmatched', False))
            for b in range(len(data_samples))
        ]
        # the merge applied each teacher's threshold already
        label_cfg = dict(self.label_cfg, score_thr=float('-inf'))
        return make_pseudo_label_samples(merged, data_samples, **label_cfg)
