# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch

from mmdensekd.models.task_modules import RCNNKeypointCoder
from mmdensekd.registry import TASK_UTILS


def _case(seed=0, num=4, num_kpts=5):
    g = torch.Generator().manual_seed(seed)
    xy0 = torch.rand(num, 2, generator=g) * 50
    wh = 60 + torch.rand(num, 2, generator=g) * 150  # cells >= 1 px
    rois = torch.cat([xy0, xy0 + wh], dim=1)
    kpts = xy0[:, None] + (0.05 + 0.9 * torch.rand(num, num_kpts, 2, generator=g)) * wh[:, None]
    return rois, kpts


def test_registered_in_mmdet_task_utils():
    coder = TASK_UTILS.build(dict(type='RCNNKeypointCoder', heatmap_size=(28, 28),
                                  _scope_='mmdet'))
    assert isinstance(coder, RCNNKeypointCoder) and coder.heatmap_size == (28, 28)


@pytest.mark.parametrize('use_dark,use_udp', [(False, False), (True, False), (False, True)])
def test_encode_decode_contract_and_round_trip(use_dark, use_udp):
    coder = RCNNKeypointCoder(use_dark=use_dark, use_udp=use_udp)
    rois, kpts = _case()
    visible = torch.ones(kpts.shape[:2])
    visible[0, 0] = 0
    labels, weights = coder.encode(kpts, visible, rois)
    assert labels.dtype == torch.long and labels.shape == kpts.shape[:2]
    assert weights.tolist()[0][0] == 0 and weights.sum() == weights.numel() - 1
    heatmaps = torch.zeros(len(rois), kpts.shape[1], 56 * 56).scatter_(
        2, labels[..., None], 10.0).view(len(rois), -1, 56, 56)
    pts, scores = coder.decode(heatmaps, rois)
    cell = (rois[:, 2:] - rois[:, :2]) / 56
    err = ((pts - kpts).abs() / cell[:, None])[weights > 0]
    assert float(err.max()) <= 1.0
    assert scores.shape == kpts.shape[:2]


def test_shape_errors_name_the_argument():
    coder = RCNNKeypointCoder()
    with pytest.raises(ValueError, match='visible'):
        coder.encode(torch.zeros(2, 3, 2), torch.ones(2, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match='boxes'):
        coder.decode(torch.zeros(2, 3, 56, 56), torch.zeros(3, 4))
