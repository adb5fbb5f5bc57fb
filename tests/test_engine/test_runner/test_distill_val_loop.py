# Copyright (c) mmdensekd contributors. All rights reserved.
"""DistillValLoop in a tiny mmengine Runner: student metrics plus
``teacher.*`` metrics from a separate evaluator built from the same config."""
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump, load
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from torch import nn
from torch.utils.data import Dataset

from mmdensekd.engine.runner import DistillValLoop
from mmdensekd.registry import LOOPS, METRICS


class _Data(Dataset):
    metainfo = dict(classes=('person', ))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.full((2, ), float(idx)),
                    data_samples=BaseDataElement(metainfo=dict(idx=idx)))


class _ToyDistiller(BaseModel):
    """Student predicts idx, teacher predicts idx + 10."""

    def __init__(self):
        super().__init__()
        self.student = nn.Linear(2, 1)
        self.teacher = nn.Linear(2, 1)
        self.calls = []

    def _predict(self, inputs, data_samples, role):
        self.calls.append(role)
        offset = 10.0 if role == 'teacher' else 0.0
        for x, ds in zip(inputs, data_samples):
            ds.set_field(float(x[0]) + offset, 'pred')
        return data_samples

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self._predict(inputs, data_samples, 'student')

    def teacher_val_step(self, data):
        data = self.data_preprocessor(data, False)
        return self._predict(data['inputs'], data['data_samples'], 'teacher')


@METRICS.register_module(force=True)
class _MeanPredMetric(BaseMetric):
    default_prefix = 'toy'

    def process(self, data_batch, data_samples):
        self.results.extend(float(ds['pred']) for ds in data_samples)

    def compute_metrics(self, results):
        return dict(mean_pred=sum(results) / len(results), n=len(results))


@METRICS.register_module(force=True)
class _DumpPredMetric(_MeanPredMetric):
    """Writes its predictions to ``outfile_path`` / ``{outfile_prefix}.preds.json``."""
    default_prefix = 'dump'

    def __init__(self, outfile_path=None, outfile_prefix=None, **kwargs):
        super().__init__(**kwargs)
        self.outfile_path = outfile_path
        self.outfile_prefix = outfile_prefix

    def compute_metrics(self, results):
        if self.outfile_path:
            dump(results, self.outfile_path)
        if self.outfile_prefix:
            dump(results, f'{self.outfile_prefix}.preds.json')
        return super().compute_metrics(results)


def _runner(tmp_path, evaluator=None, **loop_kwargs):
    return Runner(
        model=_ToyDistiller(), work_dir=str(tmp_path),
        val_dataloader=dict(dataset=_Data(), sampler=dict(type='DefaultSampler', shuffle=False),
                            batch_size=2, collate_fn=dict(type='default_collate')),
        val_cfg=dict(type='DistillValLoop', **loop_kwargs),
        val_evaluator=evaluator or dict(type='_MeanPredMetric'), default_scope='mmdet')


def test_reports_student_and_teacher_metrics(tmp_path):
    assert LOOPS.get('DistillValLoop') is DistillValLoop
    runner = _runner(tmp_path)
    metrics = runner.val()
    assert metrics['toy/mean_pred'] == 1.5  # (0 + 1 + 2 + 3) / 4
    assert metrics['teacher.toy/mean_pred'] == 11.5
    assert metrics['teacher.toy/n'] == 4  # evaluator reset between passes
    # teacher scored once, then cached
    metrics2 = runner.val()
    assert metrics2['teacher.toy/mean_pred'] == 11.5
    assert runner.model.calls.count('teacher') == 2  # 2 batches, first val only


def test_teacher_every_time_or_never(tmp_path):
    runner = _runner(tmp_path / 'a', teacher_once=False)
    runner.val()
    runner.val()
    assert runner.model.calls.count('teacher') == 4
    runner = _runner(tmp_path / 'b', evaluate_teacher=False)
    metrics = runner.val()
    assert not any(k.startswith('teacher.') for k in metrics)


def test_teacher_has_its_own_evaluator_and_output_files(tmp_path):
    evaluator = dict(type='_DumpPredMetric', outfile_path=str(tmp_path / 'dp_results.json'),
                     outfile_prefix=str(tmp_path / 'coco'))
    runner = _runner(tmp_path / 'work', evaluator=evaluator)
    metrics = runner.val()
    assert metrics['dump/mean_pred'] == 1.5 and metrics['teacher.dump/mean_pred'] == 11.5
    # the student's files hold the student's predictions, the teacher's are suffixed
    assert load(str(tmp_path / 'dp_results.json')) == [0.0, 1.0, 2.0, 3.0]
    assert load(str(tmp_path / 'coco.preds.json')) == [0.0, 1.0, 2.0, 3.0]
    assert load(str(tmp_path / 'dp_results.teacher.json')) == [10.0, 11.0, 12.0, 13.0]
    assert load(str(tmp_path / 'coco.teacher.preds.json')) == [10.0, 11.0, 12.0, 13.0]
    loop = runner.val_loop
    assert loop.teacher_evaluator is not loop.evaluator
    assert loop.evaluator.metrics[0].outfile_path == str(tmp_path / 'dp_results.json')


def test_teacher_evaluator_override_and_bad_suffix(tmp_path):
    runner = _runner(tmp_path / 'a', teacher_evaluator=dict(type='_DumpPredMetric'))
    metrics = runner.val()
    assert metrics['toy/mean_pred'] == 1.5
    assert metrics['teacher.dump/mean_pred'] == 11.5 and 'teacher.toy/mean_pred' not in metrics
    with pytest.raises(ValueError, match='teacher_file_suffix'):
        _runner(tmp_path / 'b', teacher_file_suffix='').val()
