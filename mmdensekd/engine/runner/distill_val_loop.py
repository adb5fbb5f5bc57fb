# Copyright (c) mmdensekd contributors. All rights reserved.
"""Validation loop that scores the student and, once or every time, the
frozen teacher."""
from typing import Dict, List, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _parse_losses
from torch.utils.data import DataLoader

from mmdensekd.registry import LOOPS


@LOOPS.register_module()
class DistillValLoop(ValLoop):
    """Evaluate the student as ``ValLoop`` does, then the teacher with the
    same evaluator; the teacher's metrics are reported as ``teacher.<name>``.

    The model must have a ``predict_with`` attribute (``'student'`` /
    ``'teacher'``), as ``TeacherStudentDistiller`` has. Hooks see only the
    student pass (visualisation, best-checkpoint selection on student
    metrics).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Validation dataloader.
        evaluator (Evaluator | dict | list): Metrics.
        fp16 (bool): Validate in fp16. Defaults to False.
        evaluate_teacher (bool): Score the teacher at all. Defaults to True.
        teacher_once (bool): The teacher is frozen, so score it at the first
            validation only and report the cached metrics afterwards.
            Defaults to True.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 fp16: bool = False,
                 evaluate_teacher: bool = True,
                 teacher_once: bool = True) -> None:
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.evaluate_teacher = evaluate_teacher
        self.teacher_once = teacher_once
        self._teacher_metrics: Dict[str, float] = {}

    def _distiller(self):
        model = self.runner.model
        model = model.module if is_model_wrapper(model) else model
        if not hasattr(model, 'predict_with'):
            raise TypeError('DistillValLoop needs a model with a predict_with attribute '
                            f'(e.g. TeacherStudentDistiller), got {type(model).__name__}')
        return model

    @torch.no_grad()
    def run_teacher(self) -> Dict[str, float]:
        """Score the teacher over the whole validation set.

        Returns:
            dict: ``teacher.<metric>`` -> value.
        """
        model = self._distiller()
        previous = model.predict_with
        model.predict_with = 'teacher'
        try:
            for data_batch in self.dataloader:
                with autocast(enabled=self.fp16):
                    outputs = self.runner.model.val_step(data_batch)
                self.evaluator.process(data_samples=outputs, data_batch=data_batch)
            metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        finally:
            model.predict_with = previous
        return {f'teacher.{k}': v for k, v in metrics.items()}

    def run(self) -> dict:
        """Validate the student, then the teacher; return both."""
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        model = self._distiller()
        model.predict_with = 'student'
        self.val_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.val_loss:
            metrics.update(_parse_losses(self.val_loss, 'val'))
        if self.evaluate_teacher:
            if not (self.teacher_once and self._teacher_metrics):
                self._teacher_metrics = self.run_teacher()
            metrics.update(self._teacher_metrics)
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics

