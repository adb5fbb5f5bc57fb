# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch

from mmdensekd.models.heads import DensePoseChartPredictor, DensePoseV1ConvXHead
from mmdensekd.structures import DensePoseChartPredictorOutput


@pytest.mark.parametrize('pool,coarse,out_size', [(28, 2, 112), (14, 15, 56)])
def test_predictor_output_shapes(pool, coarse, out_size):
    """s1x (28 -> 112, 2 coarse channels) and legacy (14 -> 56, 15)."""
    head = DensePoseV1ConvXHead(in_channels=8, num_convs=2, conv_channels=16)
    predictor = DensePoseChartPredictor(in_channels=16, num_coarse_segm_channels=coarse)
    feats = head(torch.randn(3, 8, pool, pool))
    assert feats.shape == (3, 16, pool, pool)
    out = predictor(feats)
    assert isinstance(out, DensePoseChartPredictorOutput)
    assert out.coarse_segm.shape == (3, coarse, out_size, out_size)
    for t in (out.fine_segm, out.u, out.v):
        assert t.shape == (3, 25, out_size, out_size)
    assert len(out) == 3 and len(out[1:]) == 2 and out[0].fine_segm.shape[0] == 1


def test_default_head_is_detectron2_recipe():
    head = DensePoseV1ConvXHead()
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 8
    assert convs[0].in_channels == 256 and all(c.out_channels == 512 for c in convs)
    assert all(c.kernel_size == (3, 3) for c in convs)


def test_invalid_arguments():
    with pytest.raises(ValueError, match='num_coarse_segm_channels'):
        DensePoseChartPredictor(num_coarse_segm_channels=3)
    with pytest.raises(ValueError, match='kernel_size'):
        DensePoseV1ConvXHead(kernel_size=2)
