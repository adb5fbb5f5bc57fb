# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
from mmengine.config import Config

from mmdensekd.apis.eval_args import eval_to_evaluators, find_ann_file, parse_eval_names


def _cfg(**kwargs):
    base = dict(test_dataloader=dict(dataset=dict(
        type='DensePoseCocoDataset', data_root='data/dp/', ann_file='annotations/val.json')))
    base.update(kwargs)
    return Config(base)


def test_parse_eval_names_aliases_commas_and_order():
    assert parse_eval_names(['bbox', 'densepose']) == ['bbox', 'densepose']
    assert parse_eval_names(['densepose,bbox', 'mAP', 'bbox']) == [
        'densepose', 'bbox', 'keypoints']


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown metric 'segm'.*bbox, keypoints, densepose"):
        parse_eval_names(['bbox', 'segm'])
    with pytest.raises(ValueError, match='at least one metric'):
        parse_eval_names([','])


def test_ann_file_from_dataset_and_wrappers():
    assert find_ann_file(_cfg()) == 'data/dp/annotations/val.json'
    wrapped = Config(dict(val_dataloader=dict(dataset=dict(
        type='RepeatDataset', times=2,
        dataset=dict(type='X', data_root='r/', ann_file='a.json')))))
    assert find_ann_file(wrapped, 'val') == 'r/a.json'
    assert find_ann_file(Config(dict())) is None


def test_eval_to_evaluators_builds_one_metric_per_name():
    evaluators = eval_to_evaluators(_cfg(), ['bbox', 'keypoints', 'densepose'],
                                    outfile='out/dp.json')
    assert evaluators == [
        dict(type='CocoMetric', ann_file='data/dp/annotations/val.json', metric='bbox'),
        dict(type='CocoKeypointMetric', ann_file='data/dp/annotations/val.json'),
        dict(type='DensePoseMetric', ann_file='data/dp/annotations/val.json',
             eval_data_dir=None, outfile_path='out/dp.json'),
    ]


def test_existing_evaluator_settings_are_kept():
    cfg = _cfg(test_evaluator=[
        dict(type='CocoMetric', ann_file='gt.json', metric=['bbox', 'segm'], classwise=True),
        dict(type='DensePoseMetric', ann_file='gt.json', eval_data_dir='geo/'),
    ])
    bbox, dp = eval_to_evaluators(cfg, ['bbox', 'densepose'])
    assert bbox == dict(type='CocoMetric', ann_file='gt.json', metric='bbox', classwise=True)
    assert dp == dict(type='DensePoseMetric', ann_file='gt.json', eval_data_dir='geo/')
    # the config itself is not modified
    assert cfg.test_evaluator[0]['metric'] == ['bbox', 'segm']


def test_missing_ann_file_is_a_clear_error():
    with pytest.raises(ValueError, match='no ann_file in test_evaluator or test_dataloader'):
        eval_to_evaluators(Config(dict()), ['bbox'])
