# Copyright (c) mmdensekd contributors. All rights reserved.
"""The evaluator validates its ground truth like the dataset does."""
import copy

import numpy as np
import pytest

from mmdensekd.evaluation.functional import evaluate


def _gt():
    ann = dict(id=7, image_id=1, category_id=1, bbox=[10.0, 10.0, 40.0, 60.0], area=2400.0,
               iscrowd=0, dp_x=[100.0, 20.0], dp_y=[30.0, 200.0], dp_I=[1.0, 2.0],
               dp_U=[0.5, 0.25], dp_V=[0.5, 0.75])
    return dict(images=[dict(id=1, width=100, height=100)],
                categories=[dict(id=1, name='person')], annotations=[ann])


def _result():
    return dict(image_id=1, category_id=1, bbox=[10.0, 10.0, 40.0, 60.0], score=0.9,
                iuv=np.ones((3, 60, 40), dtype=np.uint8))


def test_invalid_gt_raises_naming_source_and_ids():
    gt = _gt()
    gt['annotations'][0]['dp_U'] = [1.5, 0.2]
    with pytest.raises(ValueError, match=r'my_gt.json: image id 1, annotation id 7: dp_U'):
        evaluate(gt, [_result()], modes=['IOU'], source='my_gt.json', show_progress=False)


def test_skip_invalid_counts_and_leaves_caller_gt_untouched():
    gt = _gt()
    gt['annotations'][0]['dp_masks'] = [[]] * 13
    before = copy.deepcopy(gt)
    stats = evaluate(gt, [_result()], modes=['IOU'], source='g.json', skip_invalid=True,
                     show_progress=False)
    assert gt == before
    # the only annotation lost its DensePose fields: it is ignored, nothing to match
    assert stats['IOU_AP'] == -1


def test_validate_false_trusts_the_caller():
    gt = _gt()
    gt['images'].append(dict(id=1, width=100, height=100))  # a duplicate id
    with pytest.raises(ValueError, match='image id 1 appears 2 times'):
        evaluate(gt, [_result()], modes=['IOU'], source='g.json', show_progress=False)
    stats = evaluate(gt, [_result()], modes=['IOU'], source='g.json', validate=False,
                     show_progress=False)
    assert 'IOU_AP' in stats
