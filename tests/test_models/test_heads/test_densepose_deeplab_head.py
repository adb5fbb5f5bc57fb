# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch

from mmdensekd.models.heads import DensePoseDeepLabHead


def test_layout_is_detectron2s():
    """Parameter names and shapes of detectron2's DensePoseDeepLabHead
    (ASPP rates 6/12/56 + image pooling, GN convs without bias)."""
    head = DensePoseDeepLabHead(in_channels=32, num_convs=2, conv_channels=64)
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes['ASPP.convs.0.0.weight'] == (32, 32, 1, 1)
    assert shapes['ASPP.convs.3.0.weight'] == (32, 32, 3, 3)
    assert head.ASPP.convs[3][0].dilation == (56, 56)
    assert shapes['ASPP.convs.4.1.weight'] == (32, 32, 1, 1)
    assert shapes['ASPP.convs.4.2.weight'] == (32, )
    assert shapes['ASPP.project.0.weight'] == (32, 160, 1, 1)
    assert shapes['body_conv_fcn1.weight'] == (64, 32, 3, 3)
    assert shapes['body_conv_fcn2.norm.bias'] == (64, )
    assert 'body_conv_fcn1.bias' not in shapes and not any('NLBlock' in k for k in shapes)
    assert len(shapes) == 5 * 3 + 1 + 2 * 3
    no_norm = DensePoseDeepLabHead(in_channels=32, num_convs=1, conv_channels=64, norm=None)
    assert 'body_conv_fcn1.bias' in no_norm.state_dict()


def test_forward_and_nonlocal_identity_at_init():
    torch.manual_seed(0)
    x = torch.randn(2, 32, 14, 14)
    head = DensePoseDeepLabHead(in_channels=32, num_convs=2, conv_channels=64,
                                use_nonlocal=True)
    out = head(x)
    assert out.shape == (2, 64, 14, 14) and (out >= 0).all()
    # the non-local block's output GN starts at zero: it is the identity
    y = torch.randn(2, 32, 14, 14)
    torch.testing.assert_close(head.NLBlock(y), y)
    torch.nn.init.ones_(head.NLBlock.W[1].weight)
    assert not torch.allclose(head.NLBlock(y), y)
    assert {k.split('.')[1] for k in head.state_dict() if k.startswith('NLBlock')} == {
        'g', 'theta', 'phi', 'W'}


def test_bad_arguments():
    with pytest.raises(ValueError, match='norm'):
        DensePoseDeepLabHead(norm='BN')
    with pytest.raises(ValueError, match='atrous_rates'):
        DensePoseDeepLabHead(atrous_rates=(6, 12))
