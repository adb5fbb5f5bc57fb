# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch
from mmengine.structures import InstanceData

from mmdensekd.structures import DensePoseChartResults, DensePoseTargets


def _targets(n: int) -> DensePoseTargets:
    points = [torch.full((i + 1, 5), float(i)) for i in range(n)]
    segms = torch.arange(n, dtype=torch.uint8)[:, None, None].repeat(1, 256, 256)
    return DensePoseTargets(points, segms, torch.tensor([i % 2 == 0 for i in range(n)]))


def _charts(n: int) -> DensePoseChartResults:
    return DensePoseChartResults([torch.full((i + 1, 2), i, dtype=torch.uint8) for i in range(n)],
                                 [torch.zeros((2, i + 1, 2)) for i in range(n)])


@pytest.mark.parametrize('index', [torch.tensor([False, True, False, True]),
                                   torch.tensor([1, 3]), slice(1, 4, 2)])
def test_instance_data_indexing_keeps_fields_aligned(index):
    inst = InstanceData(scores=torch.arange(4.), densepose=_targets(4), charts=_charts(4))
    sub = inst[index]
    assert sub.scores.tolist() == [1., 3.]
    assert [len(p) for p in sub.densepose.points] == [2, 4]
    assert sub.densepose.segms[:, 0, 0].tolist() == [1, 3]
    assert sub.densepose.has_dp.tolist() == [False, False]
    assert [lb.shape[0] for lb in sub.charts.labels] == [2, 4]


def test_cat_and_errors():
    both = DensePoseTargets.cat([_targets(2), _targets(1)])
    assert len(both) == 3 and both.segms[:, 0, 0].tolist() == [0, 1, 0]
    assert len(DensePoseChartResults.cat([_charts(2), _charts(3)])) == 5
    with pytest.raises(IndexError, match='boolean index of length 2'):
        _targets(3)[torch.tensor([True, False])]
    with pytest.raises(ValueError, match='one entry per instance'):
        DensePoseTargets([torch.zeros(0, 5)], torch.zeros((2, 256, 256)), torch.tensor([True]))
    # The challenge encoding: I, then U and V scaled to 0..255.
    charts = DensePoseChartResults([torch.tensor([[3]], dtype=torch.uint8)],
                                   [torch.tensor([[[0.2]], [[1.0]]])])
    assert charts.iuv(0)[:, 0, 0].tolist() == [3, 51, 255]
