# Copyright (c) mmdensekd contributors. All rights reserved.
"""bf16 inference of DensePoseRCNN agrees with float32 (boxes, parts, U/V)."""
import copy
import os.path as osp

import cv2
import pytest
import torch
from mmcv.ops import RoIAlign
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdensekd.models.layers import FastRoIAlign, optimize_for_inference
from mmdensekd.models.layers.fast_inference import prediction_agreement
from mmdensekd.registry import MODELS
from mmdensekd.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY_MODEL = osp.join(ROOT, 'configs', '_base_', 'models', 'densepose-rcnn_r18-tiny_fpn.py')
IMAGE = osp.join(ROOT, 'tests', 'data', 'coco_tiny', '000000000785.jpg')
NUM_DETS = 8


def _model_cfg(**kwargs):
    cfg = copy.deepcopy(Config.fromfile(TINY_MODEL).model)
    # forced detections: every image gives NUM_DETS boxes through the heads
    cfg.test_cfg.rcnn.update(score_thr=0.0, max_per_img=NUM_DETS,
                             nms=dict(type='nms', iou_threshold=0.5))
    cfg.update(kwargs)
    return cfg


@pytest.fixture(scope='module')
def tiny():
    """A seeded tiny DensePose R-CNN with well-separated scores, trained a
    few steps on the real image so that its charts are not flat, and one
    real image batch."""
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg())
    model.init_weights()
    # spread the class scores so that bf16 noise cannot reorder them
    torch.nn.init.normal_(model.roi_head.bbox_head.fc_cls.weight, std=0.3)
    img = cv2.resize(cv2.imread(IMAGE), (320, 224))
    sample = DetDataSample(metainfo=dict(img_shape=(224, 320), ori_shape=(425, 640),
                                         scale_factor=(320 / 640, 224 / 425)))
    batch = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(img).permute(2, 0, 1).contiguous()],
             data_samples=[sample]), False)
    _train_a_few_steps(model, batch)
    # these tests check bf16 itself: no automatic refusal where it is slower
    model.stage_autocast.calibrate = False
    return model.eval(), batch


def _train_a_few_steps(model, batch, steps: int = 4):
    from mmengine.structures import InstanceData

    from mmdensekd.structures import DensePoseTargets
    gt = InstanceData()
    gt.bboxes = torch.tensor([[100., 30., 230., 220.]])
    gt.labels = torch.tensor([0])
    g = torch.Generator().manual_seed(1)
    points = torch.cat([torch.rand(60, 2, generator=g) * 255,
                        torch.randint(1, 25, (60, 1), generator=g).float(),
                        torch.rand(60, 2, generator=g)], 1)
    segm = torch.zeros((1, 256, 256), dtype=torch.uint8)
    segm[0, 40:220, 60:200] = 1
    gt.densepose = DensePoseTargets([points], segm, torch.tensor([True]))
    sample = batch['data_samples'][0].clone()
    sample.gt_instances = gt
    sample.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0))
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for _ in range(steps):
        loss, _ = model.parse_losses(model.loss(batch['inputs'], [sample]))
        optim.zero_grad()
        loss.backward()
        optim.step()


def _predict(model, batch):
    samples = [copy.deepcopy(s) for s in batch['data_samples']]
    with torch.no_grad():
        return model.predict(batch['inputs'], samples)[0].pred_instances


def test_bf16_agrees_with_fp32(tiny):
    model, batch = tiny
    ref = _predict(model, batch)
    bf16 = copy.deepcopy(model)
    bf16.set_inference_dtype('bf16')
    assert bf16.inference_dtype == 'bf16'
    seen = []
    conv = next(m for m in bf16.roi_head.densepose_head.modules()
                if isinstance(m, torch.nn.Conv2d))
    handle = conv.register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    out = _predict(bf16, batch)
    handle.remove()
    assert seen == [torch.bfloat16]  # the heads really ran in bf16
    # from the second image on, the DensePose head's features go to the
    # predictor in bf16 (no cast to float32 and back between the two)
    head_out = []
    handle = bf16.roi_head.densepose_head.register_forward_hook(
        lambda m, a, o: head_out.append(o.dtype))
    again_bf16 = _predict(bf16, batch)
    handle.remove()
    assert head_out == [torch.bfloat16]
    torch.testing.assert_close(again_bf16.bboxes, out.bboxes)
    # mmdet's own predict: autocast comes from hooks, not from an override
    from mmdet.models.detectors import TwoStageDetector
    assert type(bf16).predict is TwoStageDetector.predict
    assert out.bboxes.dtype == torch.float32 and out.densepose.uv[0].dtype == torch.float32
    assert len(ref) == NUM_DETS
    agg = prediction_agreement(ref, out)
    assert agg['matched'] >= NUM_DETS - 1, agg
    assert agg['max_box_dev'] <= 1.0, agg
    assert agg['label_agreement'] >= 0.98, agg
    assert agg['uv_mad'] <= 0.02, agg
    # the charts are not trivially flat: several part labels occur
    labels = torch.cat([lb.flatten() for lb in ref.densepose.labels])
    assert len(labels.unique()) >= 3
    # switching back gives the float32 predictions exactly
    bf16.set_inference_dtype('fp32')
    again = _predict(bf16, batch)
    torch.testing.assert_close(again.bboxes, ref.bboxes)


def test_optimized_fp32_and_bf16(tiny):
    model, batch = tiny
    ref = _predict(model, batch)
    fast = copy.deepcopy(model)
    summary = optimize_for_inference(fast, inference_dtype='bf16', fuse_bn=True,
                                     channels_last=True, calibrate=False)
    assert summary['fused_bn'] > 0 and fast.channels_last
    agg = prediction_agreement(ref, _predict(fast, batch))
    assert agg['max_box_dev'] <= 1.0 and agg['label_agreement'] >= 0.98, agg
    fp32 = copy.deepcopy(model)
    optimize_for_inference(fp32, fuse_bn=True)
    agg = prediction_agreement(ref, _predict(fp32, batch))
    assert agg['matched'] == NUM_DETS and agg['max_box_dev'] < 1e-2, agg
    assert agg['label_agreement'] >= 0.999, agg


def test_bf16_weights_stored_once(tiny):
    """optimize_for_inference stores the weights of the conv / linear
    layers that ran under autocast in bf16 from the second image on (the
    predictions of autocast casting them at every call, exactly),
    channels-last on the CPU by default; float32 and training get the
    float32 weights back."""
    model, batch = tiny
    ref = _predict(model, batch)
    cast = copy.deepcopy(model)
    summary = optimize_for_inference(cast, inference_dtype='bf16', calibrate=False)
    assert summary['channels_last'] is True and cast.channels_last
    plain = copy.deepcopy(model)
    optimize_for_inference(plain, inference_dtype='bf16', calibrate=False, cast_weights=False)
    conv = next(m for m in cast.roi_head.densepose_head.modules()
                if isinstance(m, torch.nn.Conv2d))
    fp32_weight = conv.weight.detach().clone()
    first = _predict(cast, batch)
    assert conv.weight.dtype == torch.float32  # the first image finds the layers
    out = _predict(cast, batch)
    assert conv.weight.dtype == torch.bfloat16
    torch.testing.assert_close(out.bboxes, first.bboxes, rtol=0, atol=0)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert cast.backbone.conv1.weight.dtype == torch.bfloat16
    assert cast.roi_head.bbox_head.fc_cls.weight.dtype == torch.bfloat16
    same = _predict(plain, batch)
    assert all(p.dtype == torch.float32 for p in plain.parameters())
    torch.testing.assert_close(out.bboxes, same.bboxes, rtol=0, atol=0)
    torch.testing.assert_close(out.densepose.uv[0], same.densepose.uv[0], rtol=0, atol=0)
    agg = prediction_agreement(ref, out)  # as test_optimized_fp32_and_bf16
    assert agg['matched'] >= NUM_DETS // 2 and agg['max_box_dev'] <= 1.0, agg
    assert agg['label_agreement'] >= 0.98 and agg['uv_mad'] <= 0.02, agg
    # float32 again: the original weights, the float32 predictions
    cast.set_inference_dtype('fp32')
    assert torch.equal(conv.weight, fp32_weight)
    folded = copy.deepcopy(model)
    optimize_for_inference(folded)
    torch.testing.assert_close(_predict(cast, batch).bboxes, _predict(folded, batch).bboxes,
                               rtol=0, atol=0)
    # training mode: the float32 weights, whatever the dtype
    cast.set_inference_dtype('bf16')
    _predict(cast, batch)
    _predict(cast, batch)
    assert conv.weight.dtype == torch.bfloat16
    cast.train()
    with torch.no_grad():
        cast.backbone(batch['inputs'])
    assert conv.weight.dtype == torch.float32 and torch.equal(conv.weight, fp32_weight)


def test_fast_roi_align_swapped_by_default(tiny):
    model, batch = tiny
    layers = list(model.roi_head.densepose_roi_extractor.roi_layers)
    assert all(type(m) is FastRoIAlign for m in layers)
    plain = MODELS.build(_model_cfg(fast_cpu_roi_align=False))
    assert all(type(m) is RoIAlign for m in plain.roi_head.bbox_roi_extractor.roi_layers)
    plain.load_state_dict(model.state_dict())
    plain.eval()
    ref, out = _predict(plain, batch), _predict(model, batch)
    torch.testing.assert_close(out.bboxes, ref.bboxes, rtol=0, atol=1e-3)
    torch.testing.assert_close(out.densepose.uv[0], ref.densepose.uv[0], rtol=0, atol=1e-3)


def test_autocast_stages(tiny):
    model, batch = tiny
    ref = _predict(model, batch)
    partial = copy.deepcopy(model)
    partial.set_inference_dtype('bf16')
    partial.stage_autocast.calibrate = False
    partial.autocast_stages = ('backbone', 'roi_head')  # neck and RPN head in fp32
    seen = {}

    def record(name):
        def hook(module, args, out):
            seen[name] = out[0].dtype  # returns None: the output is kept
        return hook

    hooks = [getattr(partial, name).register_forward_hook(record(name))
             for name in ('backbone', 'neck')]
    agg = prediction_agreement(ref, _predict(partial, batch))
    for h in hooks:
        h.remove()
    assert seen == {'backbone': torch.bfloat16, 'neck': torch.float32}
    assert agg['max_box_dev'] <= 1.0 and agg['label_agreement'] >= 0.98, agg
    with pytest.raises(ValueError, match='autocast_stages'):
        MODELS.build(_model_cfg(autocast_stages=['backbone', 'mask_head']))


def test_dtype_from_test_cfg_and_errors():
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')
    cfg = _model_cfg()
    cfg.test_cfg.inference_dtype = 'bf16'
    assert MODELS.build(cfg).inference_dtype == 'bf16'
    assert MODELS.build(_model_cfg(inference_dtype='fp32')).inference_dtype == 'fp32'
    with pytest.raises(ValueError, match='inference_dtype'):
        MODELS.build(_model_cfg(inference_dtype='int4'))


def test_init_model_inference_dtype(tmp_path):
    from mmdensekd.apis import init_model
    config = osp.join(ROOT, 'configs', 'densepose_rcnn',
                      'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
    model = init_model(config, inference_dtype='bf16')
    assert model.inference_dtype == 'bf16'
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # folded
    assert init_model(config).inference_dtype == 'fp32'


@pytest.mark.parametrize('bf16_ms,expected', [(5.0, torch.bfloat16), (50.0, None)])
def test_bf16_refused_where_slower(tiny, bf16_ms, expected):
    """The first image times the backbone in both dtypes (times injected
    here) and keeps bf16 only where it is not slower, saying so."""
    from unittest import mock

    from mmdensekd.models.layers.fast_inference import StageAutocast
    model, batch = tiny
    net = copy.deepcopy(model)
    net.set_inference_dtype('bf16')
    net.stage_autocast.calibrate = True

    def fake_time(self, module, args, dtype):
        return bf16_ms if dtype is not None else 20.0

    with mock.patch.object(StageAutocast, '_time_backbone', fake_time), \
            mock.patch('mmengine.logging.print_log') as log:
        out = _predict(net, batch)
    assert net.autocast_dtype is expected
    assert net.stage_autocast.calibration == dict(fp32=20.0, reduced=bf16_ms)
    assert len(out) == NUM_DETS
    if expected is None:
        assert 'bf16 inference refused' in log.call_args.args[0]
        assert '50.0 ms in bf16 against 20.0 ms in fp32' in log.call_args.args[0]
    else:
        log.assert_not_called()
    _predict(net, batch)  # measured once
    assert net.stage_autocast.calibration == dict(fp32=20.0, reduced=bf16_ms)


def test_backbone_timing_is_the_fastest_of_three_after_a_warm_up():
    """One slow forward (another process on the core) must not decide the
    dtype: the calibration keeps the fastest of three timed forwards."""
    from unittest import mock

    from mmdensekd.models.layers import fast_inference
    calls = []

    class Counting(torch.nn.Module):

        def forward(self, x):
            calls.append(torch.is_autocast_enabled('cpu'))
            return x

    clock = iter([0.0, 0.030, 1.0, 1.010, 2.0, 2.020])  # 30, 10, 20 ms
    with mock.patch.object(fast_inference.time, 'perf_counter', lambda: next(clock)):
        ms = fast_inference.StageAutocast._time_backbone(None, Counting(), (torch.ones(1), ),
                                                         torch.bfloat16)
    assert ms == pytest.approx(10.0)
    assert calls == [True] * 4  # warm-up + 3, all under autocast
