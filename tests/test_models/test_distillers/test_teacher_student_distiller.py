# Copyright (c) mmdensekd contributors. All rights reserved.
"""TeacherStudentDistiller with small recording fake detectors (no mmcv ops)."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import nn

import mmdensekd.models  # noqa: F401
from mmdensekd.models.distillers import TeacherStudentDistiller
from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseChartPredictorOutput


class _Neck(nn.Module):
    """Two levels: the input and a 2x average pool of it."""

    def forward(self, x):
        return (x, F.avg_pool2d(x, 2))


class _FakeRoIHead(nn.Module):

    def __init__(self, channels: int, size: int = 8) -> None:
        super().__init__()
        self.size = size
        self.dp = nn.Conv2d(channels, 2 + 25 * 3, 1)
        self.kpt = nn.Conv2d(channels, 17, 1)
        self.calls = []

    def _pool(self, x, rois):
        feats = x[0][rois[:, 0].long()]
        return F.adaptive_avg_pool2d(feats, self.size)

    def _densepose_forward(self, x, rois):
        self.calls.append(('densepose', rois.clone()))
        f = self._pool(x, rois)
        out = self.dp(f)
        return dict(dp_feats=f,
                    dp_output=DensePoseChartPredictorOutput(out[:, :2], out[:, 2:27],
                                                            out[:, 27:52].sigmoid(),
                                                            out[:, 52:].sigmoid()))

    def _keypoint_forward(self, x, rois):
        f = self._pool(x, rois)
        return dict(kpt_feats=f, kpt_heatmaps=self.kpt(f))

    def predict(self, x, rpn_results_list, data_samples, rescale=False):
        return rpn_results_list


class _FakeRPN(nn.Module):

    def predict(self, x, data_samples, rescale=False):
        out = []
        for _ in data_samples:
            out.append(InstanceData(bboxes=torch.tensor([[2., 2., 12., 14.], [0., 0., 4., 4.]]),
                                    scores=torch.tensor([0.9, 0.2]),
                                    labels=torch.zeros(2, dtype=torch.long)))
        return out


@MODELS.register_module(force=True)
class FakeDistillDetector(BaseModel):
    """Conv + BN backbone, a two-level 'neck', a RoI head with the
    DensePose/keypoint forward contract; records what it is given."""

    def __init__(self, in_channels: int = 3, channels: int = 4, data_preprocessor=None,
                 init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1),
                                      nn.BatchNorm2d(channels), nn.ReLU())
        self.neck = _Neck()
        self.rpn_head = _FakeRPN()
        self.roi_head = _FakeRoIHead(channels)
        self.seen_inputs = []
        self.seen_samples = []

    @property
    def with_neck(self):
        return True

    def extract_feat(self, x):
        self.seen_inputs.append(x)
        return self.neck(self.backbone(x))

    def loss(self, x, data_samples):
        self.seen_samples.append(data_samples)
        feats = self.extract_feat(x)
        base = feats[0].mean()
        return dict(loss_cls=base**2, loss_densepose_I=base.abs(),
                    loss_keypoint=feats[1].pow(2).mean(), acc=torch.tensor(50.))

    def predict(self, x, data_samples, rescale=True):
        feats = self.extract_feat(x)
        for ds in data_samples:
            ds.pred_instances = InstanceData(scores=feats[0].mean().reshape(1))
        return data_samples

    def _forward(self, x, data_samples=None):
        return self.extract_feat(x)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return getattr(self, {'loss': 'loss', 'predict': 'predict'}.get(mode, '_forward'))(
            inputs, data_samples)


@MODELS.register_module(force=True)
class FakeRecordingMTN(nn.Module):
    """(B, 2, 3, 4) CSI -> (B, 3, 8, 8) image-like tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(24, 3 * 8 * 8)
        self.seen = []

    def forward(self, amplitude, phase):
        self.seen.append((amplitude, phase))
        x = torch.cat([amplitude.flatten(1), phase.flatten(1)], 1)
        return self.fc(x).view(-1, 3, 8, 8)


FEAT = dict(type='FeatureMSELoss', loss_weight=0.1, student=['neck.0', 'neck.1'],
            teacher=['neck.0', 'neck.1'])


def _build(**kwargs):
    cfg = dict(student=dict(type='FakeDistillDetector', channels=4),
               teacher=dict(type='FakeDistillDetector', channels=4),
               allow_uninitialized_teacher=True,
               distill_losses=dict(loss_transfer=FEAT))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return TeacherStudentDistiller(**cfg)


def _samples(n=2, size=16):
    out = []
    for _ in range(n):
        ds = DetDataSample(metainfo=dict(img_shape=(size, size), batch_input_shape=(size, size)))
        ds.gt_instances = InstanceData(bboxes=torch.tensor([[1., 1., 9., 9.]]),
                                       labels=torch.zeros(1, dtype=torch.long))
        out.append(ds)
    return out


def _paired(n=2):
    torch.manual_seed(1)
    return dict(img=torch.randn(n, 3, 16, 16), csi=torch.randn(n, 2, 3, 4))


def test_losses_are_prefixed_and_weighted():
    model = _build(student_loss_weights=dict(loss_densepose=0.6, loss_keypoint=0.3))
    inputs = torch.randn(2, 3, 16, 16)
    losses = model.loss(inputs, _samples())
    assert set(losses) == {'student.loss_cls', 'student.loss_densepose_I',
                           'student.loss_keypoint', 'student.acc', 'distill.loss_transfer'}
    raw = model.student.loss(inputs, _samples())
    torch.testing.assert_close(losses['student.loss_densepose_I'], 0.6 * raw['loss_densepose_I'])
    torch.testing.assert_close(losses['student.loss_keypoint'], 0.3 * raw['loss_keypoint'])
    torch.testing.assert_close(losses['student.loss_cls'], raw['loss_cls'])
    assert losses['student.acc'].item() == 50.0
    # the transfer loss by hand: sum over the two levels of MSE * 0.1
    s = model.student.extract_feat(inputs)
    with torch.no_grad():
        t = model.teacher.extract_feat(inputs)
    expected = 0.1 * sum(F.mse_loss(a, b) for a, b in zip(s, t))
    torch.testing.assert_close(losses['distill.loss_transfer'], expected)


def test_teacher_gets_image_student_gets_csi_through_mtn():
    model = _build(student=dict(type='FakeDistillDetector', channels=4),
                   student_mtn=dict(type='FakeRecordingMTN'), student_input_key='csi')
    inputs = _paired()
    model.loss(inputs, _samples())
    assert len(model.teacher.seen_inputs) == 1
    assert model.teacher.seen_inputs[0] is inputs['img']
    amp, phase = model.student_mtn.seen[0]
    assert torch.equal(amp, inputs['csi'][:, 0]) and torch.equal(phase, inputs['csi'][:, 1])
    # the student saw the MTN output, resized to the image's 16x16
    s_in = model.student.seen_inputs[0]
    assert s_in.shape == (2, 3, 16, 16)
    assert not torch.equal(s_in, inputs['img'])
    # predict uses the student on csi, the teacher on img when asked
    model.eval()
    model.student.seen_inputs.clear()
    model.predict(inputs, _samples())
    assert model.student.seen_inputs[0].shape == (2, 3, 16, 16)
    model.predict_with = 'teacher'
    model.predict(inputs, _samples())
    assert model.teacher.seen_inputs[-1] is inputs['img']


def test_teacher_frozen_grads_stay_none():
    model = _build(distill_losses=dict(
        loss_transfer=FEAT,
        loss_dp_kl=dict(type='DensePoseKLLoss', student='densepose', teacher='densepose'),
        loss_kpt=dict(type='HeatmapDistillLoss', student='keypoint', teacher='keypoint')))
    model.train()
    assert not model.teacher.training
    assert not model.teacher.backbone[1].training  # BatchNorm in eval
    assert model.student.backbone[1].training
    bn_mean = model.teacher.backbone[1].running_mean.clone()
    losses = model.loss(torch.randn(2, 3, 16, 16), _samples())
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert all(not p.requires_grad for p in model.teacher.parameters())
    assert model.student.backbone[0].weight.grad is not None
    assert model.student.roi_head.dp.weight.grad is not None
    assert torch.equal(model.teacher.backbone[1].running_mean, bn_mean)
    model.check_teacher_frozen()
    # both heads ran on the same RoIs (GT boxes, batch index prepended)
    s_rois = model.student.roi_head.calls[-1][1]
    t_rois = model.teacher.roi_head.calls[-1][1]
    assert torch.equal(s_rois, t_rois)
    assert s_rois.tolist() == [[0., 1., 1., 9., 9.], [1., 1., 1., 9., 9.]]


def test_miswired_feature_name_raises_naming_key():
    bad = dict(FEAT, student=['neck.0', 'nekc.1'])
    with pytest.raises(ValueError, match=r"loss_transfer.*'nekc.1'"):
        _build(distill_losses=dict(loss_transfer=bad))
    # out of range index: known only at the first batch
    model = _build(distill_losses=dict(loss_transfer=dict(FEAT, teacher=['neck.0', 'neck.5'])))
    with pytest.raises(ValueError, match=r"loss_transfer.*neck.5 is out of range"):
        model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    with pytest.raises(ValueError, match="must contain 'loss'"):
        _build(distill_losses=dict(transfer=FEAT))
    with pytest.raises(KeyError, match="no 'teacher' entry"):
        _build(distill_losses=dict(loss_x=dict(type='FeatureMSELoss', student='neck.0')))
    with pytest.raises(ValueError, match='same output'):
        _build(distill_losses=dict(
            loss_x=dict(type='DensePoseKLLoss', student='densepose', teacher='keypoint')))


def test_miswired_inputs_and_weights_raise_naming_key():
    model = _build(student_input_key='csi')
    with pytest.raises(KeyError, match="student_input_key 'csi'"):
        model.loss(dict(img=torch.randn(1, 3, 16, 16)), _samples(1))
    with pytest.raises(KeyError, match="student_input_key 'csi'.*single tensor"):
        model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    model = _build(student_loss_weights=dict(loss_densepos=0.6))
    with pytest.raises(KeyError, match="'loss_densepos' matches none"):
        model.loss(torch.randn(1, 3, 16, 16), _samples(1))


def test_channel_mismatch_and_connector():
    student = dict(type='FakeDistillDetector', channels=2)
    model = _build(student=student)
    with pytest.raises(ValueError, match=r"loss_transfer.*'neck.0' has 2 channels.*has 4"):
        model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    model = _build(student=student, distill_losses=dict(
        loss_transfer=dict(FEAT, connector=dict(in_channels=2, out_channels=4))))
    losses = model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    losses['distill.loss_transfer'].backward()
    assert model.connectors['loss_transfer'][0].weight.grad is not None


def test_zero_scale_keeps_connectors_in_graph():
    """With every distillation scale 0 the teacher is skipped, but the
    connectors still get a (zero) gradient, as DDP needs for every trainable
    parameter."""
    model = _build(student=dict(type='FakeDistillDetector', channels=2), distill_losses=dict(
        loss_transfer=dict(FEAT, connector=dict(in_channels=2, out_channels=4))))
    model.set_distill_loss_scale(0.0)
    losses = model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    assert model.teacher.seen_inputs == []
    assert losses['distill.loss_transfer'].item() == 0.0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for conv in model.connectors['loss_transfer']:
        for p in conv.parameters():
            assert p.grad is not None
            assert p.grad.abs().sum().item() == 0.0
    assert all(p.grad is None for p in model.teacher.parameters())


def test_teacher_checkpoint_required_and_loaded(tmp_path):
    with pytest.raises(ValueError, match='teacher_ckpt is required'):
        _build(allow_uninitialized_teacher=False)
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _build(allow_uninitialized_teacher=False, teacher_ckpt=missing)
    with pytest.raises(FileNotFoundError, match='missing_cfg.py'):
        _build(teacher=None, teacher_cfg=str(tmp_path / 'missing_cfg.py'))
    torch.manual_seed(3)
    teacher = FakeDistillDetector(channels=4)
    ckpt = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg_file = tmp_path / 'teacher_cfg.py'
    cfg_file.write_text("model = dict(type='FakeDistillDetector', channels=4)\n")
    model = _build(teacher=None, teacher_cfg=str(cfg_file), teacher_ckpt=str(ckpt),
                   allow_uninitialized_teacher=False)
    for (name, p), q in zip(model.teacher.named_parameters(), teacher.parameters()):
        assert torch.equal(p, q), name
    # init_weights re-initialises the student only
    before = copy.deepcopy(model.teacher.state_dict())
    model.init_weights()
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_stopped_distillation_skips_teacher():
    model = _build()
    model.set_distill_loss_scale(0.0)
    losses = model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    assert model.teacher.seen_inputs == []
    assert losses['distill.loss_transfer'].item() == 0.0
    with pytest.raises(KeyError, match='loss_nope'):
        model.set_distill_loss_scale(1.0, ['loss_nope'])
    model.set_distill_loss_scale(0.5)
    half = model.loss(torch.ones(1, 3, 16, 16), _samples(1))['distill.loss_transfer']
    model.set_distill_loss_scale(1.0)
    full = model.loss(torch.ones(1, 3, 16, 16), _samples(1))['distill.loss_transfer']
    torch.testing.assert_close(half * 2, full)


def test_teacher_pseudo_label_supervision():
    model = _build(supervision='teacher', pseudo_label_cfg=dict(score_thr=0.5),
                   distill_rois='teacher', distill_losses=dict(
                       loss_dp_kl=dict(type='DensePoseKLLoss', student='densepose',
                                       teacher='densepose')))
    model.loss(torch.randn(2, 3, 16, 16), _samples())
    seen = model.student.seen_samples[-1]
    # the student is supervised by the teacher's confident detection, not the GT box
    assert seen[0].gt_instances.bboxes.tolist() == [[2., 2., 12., 14.]]
    assert seen[0].gt_instances.keypoints_visible.shape == (1, 17)
    assert model.student.roi_head.calls[-1][1].tolist() == [[0., 2., 2., 12., 14.],
                                                            [1., 2., 2., 12., 14.]]


def test_real_densepose_rcnn_teacher_and_student():
    """The tiny DensePose R-CNN as teacher and student: feature and output
    (DensePose KL, U/V) terms through the real RoI head contract."""
    from mmengine.config import Config

    from mmdensekd.structures import DensePoseTargets
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    det = Config.fromfile(
        osp.join(root, 'configs', 'densepose_rcnn',
                 'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')).model.to_dict()
    det.pop('data_preprocessor')
    torch.manual_seed(0)
    model = TeacherStudentDistiller(
        teacher=det, student=copy.deepcopy(det), allow_uninitialized_teacher=True,
        student_loss_weights=dict(loss_densepose=0.6),
        distill_losses=dict(
            loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1,
                               student=['neck.0', 'neck.1', 'neck.2', 'neck.3'],
                               teacher=['neck.0', 'neck.1', 'neck.2', 'neck.3']),
            loss_dp_kl=dict(type='DensePoseKLLoss', student='densepose', teacher='densepose'),
            loss_dp_uv=dict(type='DensePoseUVLoss', fg_thr=0.0, part_thr=0.0,
                            student='densepose', teacher='densepose')))
    model.init_weights()
    model.train()
    ds = DetDataSample(metainfo=dict(img_shape=(96, 128), batch_input_shape=(96, 128),
                                     pad_shape=(96, 128), ori_shape=(96, 128),
                                     scale_factor=(1.0, 1.0)))
    points = torch.cat([torch.rand(20, 2) * 255, torch.randint(1, 25, (20, 1)).float(),
                        torch.rand(20, 2)], dim=1)
    ds.gt_instances = InstanceData(
        bboxes=torch.tensor([[20., 10., 90., 90.]]), labels=torch.zeros(1, dtype=torch.long),
        keypoints=torch.zeros(1, 17, 2), keypoints_visible=torch.zeros(1, 17),
        densepose=DensePoseTargets([points], torch.ones(1, 256, 256, dtype=torch.uint8),
                                   torch.ones(1, dtype=torch.bool)))
    ds.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4),
                                        labels=torch.zeros(0, dtype=torch.long))
    losses = model.loss(torch.randn(1, 3, 96, 128), [ds])
    for key in ('distill.loss_transfer', 'distill.loss_dp_kl', 'distill.loss_dp_uv',
                'student.loss_densepose_I', 'student.loss_cls', 'student.loss_rpn_cls'):
        assert key in losses, key
    assert losses['distill.loss_dp_kl'].item() > 0 and losses['distill.loss_dp_uv'].item() > 0
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
                for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.student.roi_head.densepose_predictor.fine_segm_lowres.weight.grad.abs().sum() > 0
    model.check_teacher_frozen()
