# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch

from mmdensekd.models.heads.refine_head import DensePoseKeypointRefineHead
from mmdensekd.registry import MODELS


def _feats(dp_ch=16, kpt_ch=16, num=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(num, dp_ch, 28, 28, generator=g),
            torch.randn(num, kpt_ch, 14, 14, generator=g))


def _num_convs(seq):
    return sum(isinstance(m, torch.nn.Conv2d) for m in seq)


@pytest.mark.parametrize('fuse', ['sum', 'concat'])
def test_refine_shapes_and_units(fuse):
    head = MODELS.build(dict(type='DensePoseKeypointRefineHead', dp_channels=16,
                             kpt_channels=16, fuse=fuse))
    dp, kpt = _feats()
    dp_out, kpt_out = head(dp, kpt)
    assert dp_out.shape == (3, 16, 28, 28)
    assert kpt_out.shape == (3, 16, 14, 14)
    assert _num_convs(head.dp_refine) == 2 and _num_convs(head.kpt_refine) == 2
    first = head.dp_refine[0]
    assert first.in_channels == (32 if fuse == 'concat' else 16)
    assert first.out_channels == 16
    assert bool((dp_out >= 0).all())  # each unit ends with ReLU


@pytest.mark.parametrize('fuse', ['sum', 'concat'])
def test_refine_different_channels_and_coupling(fuse):
    head = DensePoseKeypointRefineHead(dp_channels=12, kpt_channels=8, fuse=fuse)
    dp, kpt = _feats(12, 8)
    dp.requires_grad_(True)
    kpt.requires_grad_(True)
    dp_out, kpt_out = head(dp, kpt)
    assert dp_out.shape == (3, 12, 28, 28) and kpt_out.shape == (3, 8, 14, 14)
    if fuse == 'sum':
        assert head.kpt_to_dp.in_channels == 8 and head.kpt_to_dp.out_channels == 12
        assert head.dp_to_kpt.in_channels == 12 and head.dp_to_kpt.out_channels == 8
    # each refined branch depends on the other branch's features
    kpt_out.sum().backward(retain_graph=True)
    assert float(dp.grad.abs().sum()) > 0
    kpt.grad = None
    dp_out.sum().backward()
    assert float(kpt.grad.abs().sum()) > 0


def test_refine_sum_with_equal_channels_is_identity_fusion():
    head = DensePoseKeypointRefineHead(dp_channels=4, kpt_channels=4, fuse='sum')
    assert isinstance(head.kpt_to_dp, torch.nn.Identity)
    dp, kpt = _feats(4, 4, num=1)
    fused = head._fuse(dp, kpt, head.kpt_to_dp)
    up = torch.nn.functional.interpolate(kpt, size=(28, 28), mode='bilinear',
                                         align_corners=False)
    torch.testing.assert_close(fused, dp + up)


def test_refine_validation():
    with pytest.raises(ValueError, match='fuse'):
        DensePoseKeypointRefineHead(fuse='mean')
    with pytest.raises(ValueError, match='num_convs'):
        DensePoseKeypointRefineHead(num_convs=0)
    head = DensePoseKeypointRefineHead(dp_channels=16, kpt_channels=16)
    dp, kpt = _feats(16, 8)
    with pytest.raises(ValueError, match='kpt_channels'):
        head(dp, kpt)
    with pytest.raises(ValueError, match='same RoIs'):
        head(dp[:2], _feats()[1])


def test_refine_head_carries_no_loss_weights():
    """The paper's 0.6 / 0.3 live in the branch losses' ``loss_weight``
    only; the refinement unit has no weight to set a second time."""
    head = DensePoseKeypointRefineHead(dp_channels=4, kpt_channels=4)
    assert not hasattr(head, 'weight_losses')
    for key in ('dp_loss_weight', 'kpt_loss_weight'):
        with pytest.raises(TypeError, match=key):
            DensePoseKeypointRefineHead(dp_channels=4, kpt_channels=4, **{key: 0.6})
