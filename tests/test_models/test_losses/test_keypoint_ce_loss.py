# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from mmdensekd.models.losses import KeypointCELoss
from mmdensekd.registry import MODELS


def test_mean_spatial_ce_over_visible_keypoints():
    torch.manual_seed(0)
    heatmaps = torch.randn(2, 3, 4, 5, requires_grad=True)
    labels = torch.tensor([[0, 7, 19], [3, 4, 5]])
    weights = torch.tensor([[1., 0., 1.], [0., 0., 1.]])
    loss = MODELS.build(dict(type='KeypointCELoss', loss_weight=0.5))(heatmaps, labels, weights)
    flat = heatmaps.flatten(2)
    expected = (F.cross_entropy(flat[0, 0:1], labels[0, 0:1])
                + F.cross_entropy(flat[0, 2:3], labels[0, 2:3])
                + F.cross_entropy(flat[1, 2:3], labels[1, 2:3])) / 3
    torch.testing.assert_close(loss, 0.5 * expected)
    # no visible keypoint: zero, still in the graph
    zero = KeypointCELoss()(heatmaps, labels, torch.zeros(2, 3))
    assert zero.item() == 0.0 and zero.requires_grad
    with pytest.raises(ValueError, match='disagree'):
        KeypointCELoss()(heatmaps, labels[:, :2], weights)
    with pytest.raises(ValueError, match='loss_weight'):
        KeypointCELoss(loss_weight=-1)
