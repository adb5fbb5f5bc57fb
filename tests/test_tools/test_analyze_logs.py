# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/analysis/analyze_logs.py on a small mmengine scalar log."""
import json

import cv2
import numpy as np
import pytest


def _write_log(path, records):
    with open(path, 'w', encoding='utf-8') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')
    return str(path)


def _train_records(num=6, seed=0):
    rng = np.random.default_rng(seed)
    records = []
    for k in range(1, num + 1):
        it = 10 * k
        records.append({
            'lr': 0.01, 'loss': float(3.0 / k + rng.random() * 0.01),
            'student.loss_densepose': float(1.0 / k),
            'distill.loss_transfer': float(0.5 - 0.05 * k),
            'time': float(0.5 + 0.1 * k), 'data_time': 0.01, 'iter': it, 'memory': 100,
            'step': it})
        if k == 3:  # a validation record, as mmengine writes it (step = epoch = 0)
            records.append({'coco/bbox_mAP': 0.25, 'densepose/IOU_AP': 0.4, 'time': 2.0,
                            'step': 0})
    return records


def test_plot_curve_data_match_the_log(load_tool, tmp_path):
    tool = load_tool('analysis/analyze_logs.py')
    records = _train_records()
    log = _write_log(tmp_path / '20260101_000000.json', records)
    out = tmp_path / 'plots' / 'curves.png'
    keys = ['loss', 'student.loss_densepose', 'distill.loss_transfer']
    curves = tool.plot_curves([log], keys, str(out), title='tiny')
    assert list(curves) == keys
    train = [r for r in records if 'loss' in r]
    for key in keys:
        x, y = curves[key]
        np.testing.assert_array_equal(x, [r['step'] for r in train])
        np.testing.assert_allclose(y, [r[key] for r in train])
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 5  # something is drawn on the white figure
    # the command line writes the same figure and returns the same data
    cli = tool.main(['plot_curve', log, '--keys', 'loss', 'coco/bbox_mAP', '--out',
                     str(tmp_path / 'cli.png'), '--legend', 'train loss', 'box AP'])
    np.testing.assert_allclose(cli['train loss'][1], curves['loss'][1])
    np.testing.assert_array_equal(cli['box AP'][0], [30.0])  # after iteration 30
    np.testing.assert_array_equal(cli['box AP'][1], [0.25])


def test_plot_curve_several_logs_and_errors(load_tool, tmp_path):
    tool = load_tool('analysis/analyze_logs.py')
    log_a = _write_log(tmp_path / 'a.json', _train_records(4, seed=1))
    log_b = _write_log(tmp_path / 'b.json', _train_records(5, seed=2))
    curves = tool.plot_curves([log_a, log_b], ['loss'], None)
    assert list(curves) == ['a.json: loss', 'b.json: loss']
    assert len(curves['b.json: loss'][0]) == 5
    with pytest.raises(ValueError, match=r"no scalar 'loss_missing'.*student.loss_densepose"):
        tool.plot_curves([log_a], ['loss_missing'])
    with pytest.raises(ValueError, match='legend'):
        tool.plot_curves([log_a], ['loss'], legend=['x', 'y'])
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1.0, "step": 1}\n{not json\n')
    with pytest.raises(ValueError, match=r'bad\.json:2'):
        tool.plot_curves([str(bad)], ['loss'])
    with pytest.raises(FileNotFoundError, match='missing.json'):
        tool.plot_curves([str(tmp_path / 'missing.json')], ['loss'])


def test_cal_train_time(load_tool, tmp_path):
    tool = load_tool('analysis/analyze_logs.py')
    records = _train_records()
    log = _write_log(tmp_path / 'log.json', records)
    times = np.array([r['time'] for r in records if 'loss' in r])  # not the val record
    stats = tool.cal_train_time(log)  # first interval (start-up) dropped
    assert stats['num_records'] == 5
    assert stats['mean'] == pytest.approx(times[1:].mean())
    assert stats['max'] == pytest.approx(1.1) and stats['last_iter'] == 60
    assert stats['total_hours'] == pytest.approx(times[1:].mean() * 60 / 3600)
    with_first = tool.cal_train_time(log, include_outliers=True)
    assert with_first['mean'] == pytest.approx(times.mean())
    only_val = _write_log(tmp_path / 'val.json', [{'coco/bbox_mAP': 0.1, 'step': 5}])
    with pytest.raises(ValueError, match='no training record'):
        tool.cal_train_time(only_val)
