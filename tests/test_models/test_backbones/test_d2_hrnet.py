# Copyright (c) mmdensekd contributors. All rights reserved.
"""D2HRNet / CroppingHRModule: mmdet's HRNet where sizes halve exactly,
detectron2's top-left crop of upsampled branches where they do not."""
import pytest
import torch
from mmdet.models.backbones import HRNet

from mmdensekd.models.backbones import CroppingHRModule, D2HRNet

TINY = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                num_channels=(8, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                num_channels=(4, 8)),
    stage3=dict(num_modules=2, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                num_channels=(4, 8, 16)),
    stage4=dict(num_modules=2, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                num_channels=(4, 8, 16, 32)))


def _randomise_bn(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)


def test_same_layout_and_output_as_mmdet_hrnet_on_padded_input():
    torch.manual_seed(0)
    ours = D2HRNet(TINY).eval()
    ref = HRNet(TINY)
    ref.eval()  # mmdet's HRNet.train returns None
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in ref.state_dict().items()]
    _randomise_bn(ours)
    ref.load_state_dict(ours.state_dict(), strict=True)
    assert all(isinstance(m, CroppingHRModule) for s in (ours.stage2, ours.stage3, ours.stage4)
               for m in s)
    image = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        outs, refs = ours(image), ref(image)
    assert [tuple(o.shape) for o in outs] == [(1, 4, 16, 24), (1, 8, 8, 12), (1, 16, 4, 6),
                                               (1, 32, 2, 3)]
    for out, expected in zip(outs, refs):
        torch.testing.assert_close(out, expected)


def test_any_input_size_runs_with_ceil_branch_sizes():
    torch.manual_seed(0)
    ours = D2HRNet(TINY).eval()
    image = torch.randn(1, 3, 50, 70)
    with torch.no_grad():
        outs = ours(image)
        with pytest.raises(RuntimeError):  # mmdet's HRModule adds 14-row to 13-row maps
            ref = HRNet(TINY)
            ref.eval()
            ref(image)
    # stem: 50 x 70 -> 25 x 35 -> 13 x 18, then halved with ceil
    assert [tuple(o.shape[2:]) for o in outs] == [(13, 18), (7, 9), (4, 5), (2, 3)]


def test_fusion_crops_upsampled_branch_top_left():
    """Branch 1 (3x3) upsampled x 2 is 6x6; it is cropped to branch 0's 5x5
    (rows / columns 0..4) before the sum, as in detectron2."""
    torch.manual_seed(0)
    module = CroppingHRModule(2, D2HRNet.blocks_dict['BASIC'], (1, 1), [2, 3], (2, 3)).eval()
    _randomise_bn(module, seed=2)
    gen = torch.Generator().manual_seed(3)
    x0, x1 = torch.randn(1, 2, 5, 5, generator=gen), torch.randn(1, 3, 3, 3, generator=gen)
    with torch.no_grad():
        out0, out1 = module([x0, x1])
        b0, b1 = module.branches[0](x0), module.branches[1](x1)
        up = module.fuse_layers[0][1](b1)
        assert tuple(up.shape[2:]) == (6, 6)
        expected0 = torch.relu(b0 + up[..., :5, :5])
        expected1 = torch.relu(module.fuse_layers[1][0](b0) + b1)
    torch.testing.assert_close(out0, expected0)
    torch.testing.assert_close(out1, expected1)
    assert tuple(out1.shape[2:]) == (3, 3)
