# Copyright (c) mmdensekd contributors. All rights reserved.
"""Validation loop that scores the student and, once or every time, the
frozen teacher."""
import copy
import os.path as osp
from typing import Dict, List, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop
from mmengine.runner.amp import autocast
from torch.utils.data import DataLoader

from mmdensekd.registry import LOOPS


class StudentTeacherEvaluator(Evaluator):
    """The student's ``Evaluator`` whose results also hold the teacher's
    metrics (``teacher.<name>``), so that the hooks called with the
    validation metrics (logging, best checkpoint) see both.

    Args:
        metrics: The student's metrics (as ``Evaluator`` takes them).
    """

    def __init__(self, metrics) -> None:
        super().__init__(metrics)
        self.teacher_metrics: Dict[str, float] = {}

    def evaluate(self, size: int) -> dict:
        """The student's metrics, then :attr:`teacher_metrics`."""
        metrics = super().evaluate(size)
        metrics.update(self.teacher_metrics)
        return metrics


@LOOPS.register_module()
class DistillValLoop(ValLoop):
    """Evaluate the frozen teacher, then the student as ``ValLoop`` does; the
    teacher's metrics are reported as ``teacher.<name>`` beside the student's.

    The teacher pass calls the model's public ``teacher_val_step``, the
    student pass ``model.val_step``; the student pass is ``ValLoop.run`` itself, whose
    evaluator (a :class:`StudentTeacherEvaluator`) adds the teacher's cached
    metrics to the student's.

    The teacher is scored by its own evaluator, built (at the first teacher
    pass) from ``teacher_evaluator``, by default from the same ``evaluator``
    config (a deep copy when an ``Evaluator`` instance is given), so the
    student's metric state and output files are never touched. In the
    teacher's evaluator every file-output attribute of a metric named in
    ``TEACHER_FILE_ATTRS`` that is set gets ``teacher_file_suffix``: a
    ``*_path`` with an extension gets it before the extension
    (``dp_results.json`` -> ``dp_results.teacher.json``), any other value
    (an ``outfile_prefix``) at the end (``work/coco`` -> ``work/coco.teacher``,
    giving ``work/coco.teacher.bbox.json``).

    The model must have a ``teacher_val_step(data)`` method, as
    ``TeacherStudentDistiller`` has. Hooks see only the
    student pass (visualisation, best-checkpoint selection on student
    metrics, which also see the ``teacher.`` entries).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Validation dataloader.
        evaluator (Evaluator | dict | list): Metrics.
        fp16 (bool): Validate in fp16. Defaults to False.
        evaluate_teacher (bool): Score the teacher at all. Defaults to True.
        teacher_once (bool): The teacher is frozen, so score it at the first
            validation only and report the cached metrics afterwards.
            Defaults to True.
        teacher_file_suffix (str): Suffix of the teacher evaluator's output
            files (see above). Defaults to ``'.teacher'``.
        teacher_evaluator (Evaluator | dict | list, optional): Metrics of
            the teacher when they differ from the student's (e.g. no
            keypoint metric for a teacher without a keypoint branch).
            Defaults to None (the student's ``evaluator``).
    """

    #: Metric attributes that name output files (mmdet / mmpose
    #: ``outfile_prefix``, ``DensePoseMetric.outfile_path``, mmengine
    #: ``DumpResults.out_file_path``).
    TEACHER_FILE_ATTRS = ('outfile_prefix', 'outfile_path', 'out_file_path')

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 fp16: bool = False,
                 evaluate_teacher: bool = True,
                 teacher_once: bool = True,
                 teacher_file_suffix: str = '.teacher',
                 teacher_evaluator: Union[Evaluator, Dict, List, None] = None) -> None:
        if not isinstance(teacher_file_suffix, str) or not teacher_file_suffix:
            raise ValueError('teacher_file_suffix must be a non-empty string (the teacher '
                             f'must not overwrite student outputs), got {teacher_file_suffix!r}')
        if teacher_evaluator is not None and not isinstance(teacher_evaluator,
                                                            (Evaluator, dict, list)):
            raise TypeError('teacher_evaluator must be an Evaluator, dict or list, got '
                            f'{type(teacher_evaluator).__name__}')
        evaluator_cfg = None
        if evaluate_teacher:  # copied before the student's evaluator is built / used
            evaluator_cfg = copy.deepcopy(
                evaluator if teacher_evaluator is None else teacher_evaluator)
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        if type(self.evaluator) is not Evaluator:
            raise TypeError('DistillValLoop needs a plain mmengine Evaluator (or the metric '
                            f'configs), got {type(self.evaluator).__name__}')
        dataset_meta = self.evaluator.dataset_meta
        self.evaluator = StudentTeacherEvaluator(self.evaluator.metrics)
        if dataset_meta is not None:
            self.evaluator.dataset_meta = dataset_meta
        self.evaluate_teacher = evaluate_teacher
        self.teacher_once = teacher_once
        self.teacher_file_suffix = teacher_file_suffix
        self._evaluator_cfg = evaluator_cfg
        self._teacher_evaluator = None
        self._teacher_metrics: Dict[str, float] = {}

    def _suffixed(self, attr: str, value: str) -> str:
        """``value`` with ``teacher_file_suffix`` (before a path's extension)."""
        if attr.endswith('path'):
            root, ext = osp.splitext(value)
            if ext:
                return f'{root}{self.teacher_file_suffix}{ext}'
        return f'{value}{self.teacher_file_suffix}'

    @property
    def teacher_evaluator(self) -> Evaluator:
        """The teacher's evaluator, with suffixed output files (built once)."""
        if self._teacher_evaluator is None:
            if self._evaluator_cfg is None:
                raise RuntimeError('DistillValLoop: evaluate_teacher=False, no teacher evaluator')
            if isinstance(self._evaluator_cfg, Evaluator):
                evaluator = self._evaluator_cfg
            else:
                evaluator = self.runner.build_evaluator(self._evaluator_cfg)
            if hasattr(self.dataloader.dataset, 'metainfo'):
                evaluator.dataset_meta = self.dataloader.dataset.metainfo
            for metric in evaluator.metrics:
                for attr in self.TEACHER_FILE_ATTRS:
                    value = getattr(metric, attr, None)
                    if isinstance(value, str) and value:
                        setattr(metric, attr, self._suffixed(attr, value))
            self._teacher_evaluator = evaluator
        return self._teacher_evaluator

    def _distiller(self):
        model = self.runner.model
        model = model.module if is_model_wrapper(model) else model
        if not callable(getattr(model, 'teacher_val_step', None)):
            raise TypeError('DistillValLoop needs a model with a teacher_val_step method '
                            f'(e.g. TeacherStudentDistiller), got {type(model).__name__}')
        return model

    @torch.no_grad()
    def run_teacher(self) -> Dict[str, float]:
        """Score the teacher over the whole validation set.

        Returns:
            dict: ``teacher.<metric>`` -> value.
        """
        model = self._distiller()
        evaluator = self.teacher_evaluator
        for data_batch in self.dataloader:
            with autocast(enabled=self.fp16):
                outputs = model.teacher_val_step(data_batch)
            evaluator.process(data_samples=outputs, data_batch=data_batch)
        metrics = evaluator.evaluate(len(self.dataloader.dataset))
        return {f'teacher.{k}': v for k, v in metrics.items()}

    def run(self) -> dict:
        """Score the teacher (unless cached), then validate the student as
        ``ValLoop.run`` does; the metrics hold both."""
        self._distiller()
        if self.evaluate_teacher and not (self.teacher_once and self._teacher_metrics):
            self.runner.model.eval()
            self._teacher_metrics = self.run_teacher()
        self.evaluator.teacher_metrics = dict(self._teacher_metrics) \
            if self.evaluate_teacher else {}
        return super().run()
