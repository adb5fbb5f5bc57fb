# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch
from mmdet.models.backbones import ResNet
from mmengine.structures import InstanceData
from torch import nn

from mmdensekd.models.layers import (
    convert_to_channels_last,
    fuse_batch_norms,
    inference_autocast,
    swap_roi_align,
)
from mmdensekd.models.layers.fast_inference import (
    cast_floats,
    prediction_agreement,
    resolve_inference_dtype,
)
from mmdensekd.structures import DensePoseChartPredictorOutput, DensePoseChartResults


def test_resolve_inference_dtype():
    assert resolve_inference_dtype(None) is None
    assert resolve_inference_dtype('fp32') is None
    assert resolve_inference_dtype('BF16') is torch.bfloat16
    assert resolve_inference_dtype('float16') is torch.float16
    assert resolve_inference_dtype(torch.bfloat16) is torch.bfloat16
    with pytest.raises(ValueError, match='inference_dtype'):
        resolve_inference_dtype('int8')
    with pytest.raises(ValueError, match='inference_dtype'):
        resolve_inference_dtype(torch.int8)


def test_autocast_and_cast_floats():
    lin = nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with inference_autocast('cpu', torch.bfloat16):
        y = lin(x)
    assert y.dtype == torch.bfloat16
    with inference_autocast('cpu', None):
        assert lin(x).dtype == torch.float32
    out = DensePoseChartPredictorOutput(*[torch.ones(1, 2, 3, 3, dtype=torch.bfloat16)] * 4)
    nested = cast_floats(([y], {'a': out, 'n': torch.ones(2, dtype=torch.long)}, 'k'))
    assert nested[0][0].dtype == torch.float32
    assert nested[1]['a'].u.dtype == torch.float32 and nested[1]['a'].coarse_segm.shape[1] == 2
    assert nested[1]['n'].dtype == torch.long and nested[2] == 'k'


def _resnet() -> ResNet:
    torch.manual_seed(0)
    net = ResNet(depth=18, base_channels=8, out_indices=(0, 1, 2, 3), norm_eval=False)
    for m in net.modules():  # non-trivial running statistics and affine terms
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net


def test_fuse_batch_norms_keeps_outputs():
    net = _resnet()
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(RuntimeError, match='eval-mode'):
        fuse_batch_norms(net)
    net.eval()
    num_bn = sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    with torch.no_grad():
        ref = net(x)
        assert fuse_batch_norms(net) == num_bn > 0
        out = net(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_channels_last():
    net = _resnet()
    net.eval()  # mmdet's ResNet.train() returns None
    net.channels_last = False
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        convert_to_channels_last(net)
        out = net(x.contiguous(memory_format=torch.channels_last))
    assert net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert net.channels_last is True
    torch.testing.assert_close(out[-1], ref[-1], rtol=1e-4, atol=1e-4)
    assert swap_roi_align(net) == 0


def _instances(boxes, labels, uv_shift=0.0):
    inst = InstanceData()
    inst.bboxes = torch.tensor(boxes, dtype=torch.float32)
    inst.scores = torch.linspace(0.9, 0.5, len(boxes))
    lbs, uvs = [], []
    for (x0, y0, x1, y1), lb in zip(boxes, labels):
        h, w = max(int(y1 - y0), 1), max(int(x1 - x0), 1)
        lbs.append(torch.full((h, w), lb, dtype=torch.uint8))
        uvs.append(torch.full((2, h, w), 0.5 + uv_shift))
    inst.densepose = DensePoseChartResults(lbs, uvs)
    return inst


def test_prediction_agreement():
    ref = _instances([[0, 0, 10, 10], [20, 20, 40, 50]], [3, 5])
    same = prediction_agreement(ref, _instances([[0, 0, 10, 10], [20, 20, 40, 50]], [3, 5]))
    assert same['matched'] == 2 and same['max_box_dev'] == 0
    assert same['label_agreement'] == 1 and same['uv_mad'] == 0
    # swapped order, one box moved by 0.5 px, one chart with other labels
    other = _instances([[20.5, 20, 40, 50], [0, 0, 10, 10]], [5, 4], uv_shift=0.01)
    agg = prediction_agreement(ref, other)
    assert agg['matched'] == 2 and agg['max_box_dev'] == pytest.approx(0.5)
    assert agg['label_agreement'] == pytest.approx(19 * 30 / (100 + 19 * 30))
    assert agg['uv_mad'] == pytest.approx(0.01, abs=1e-6)
    assert prediction_agreement(ref, _instances([[60, 60, 70, 70]], [1]))['matched'] == 0


def test_stage_autocast_hooks_on_a_csi_student():
    """optimize_for_inference autocasts the stages of the detector inside a
    CSIDetector with forward hooks: bf16 convolutions, float32 predictions,
    nothing in training mode, and a deep copy with hooks of its own."""
    import copy
    import os.path as osp

    from mmdet.structures import DetDataSample

    from mmdensekd.apis import init_model, student_config
    from mmdensekd.models.layers import (
        StageAutocast,
        enable_stage_autocast,
        optimize_for_inference,
        restore_roi_align,
        swap_roi_align,
    )
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    torch.manual_seed(0)
    model = init_model(student_config(osp.join(
        root, 'configs', 'distill',
        'kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py')))
    bf16 = copy.deepcopy(model)
    summary = optimize_for_inference(bf16, inference_dtype='bf16', calibrate=False)
    assert summary['inference_dtype'] == 'bf16'
    assert isinstance(bf16.detector.stage_autocast, StageAutocast)
    csi = torch.rand(1, 2, 3, 114, 10) * 10
    sample = DetDataSample(metainfo=dict(img_shape=(192, 288), ori_shape=(192, 288),
                                         scale_factor=(1.0, 1.0), batch_input_shape=(192, 288),
                                         pad_shape=(192, 288)))

    def conv_dtypes(net, train=False):
        seen = []
        conv = net.detector.backbone.conv1
        handle = conv.register_forward_hook(lambda m, a, out: seen.append(out.dtype))
        net.train(train)
        with torch.no_grad():
            if train:
                net.detector.extract_feat(net.csi_to_image(csi, [sample]))
                out = None
            else:
                out = net.predict(csi, [copy.deepcopy(sample)])[0].pred_instances
        handle.remove()
        return seen, out

    seen, out = conv_dtypes(bf16)
    assert seen == [torch.bfloat16] and out.bboxes.dtype == torch.float32
    assert conv_dtypes(bf16, train=True)[0] == [torch.float32]  # training: untouched
    again = copy.deepcopy(bf16)
    enable_stage_autocast(again.detector, 'fp32')
    assert conv_dtypes(again)[0] == [torch.float32]
    assert conv_dtypes(bf16)[0] == [torch.bfloat16]  # the original keeps its own setting
    with pytest.raises(ValueError, match='autocast_stages'):
        enable_stage_autocast(again.detector, 'bf16', ['backbone', 'mask_head'])
    with pytest.raises(TypeError, match='two-stage detector'):
        optimize_for_inference(torch.nn.Conv2d(3, 3, 1), inference_dtype='bf16')
    # the fast RoIAlign swap and its inverse
    restored = restore_roi_align(again)
    assert restored > 0 and swap_roi_align(again) == restored
