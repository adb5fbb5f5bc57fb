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
from mmdensekd.structures import DensePoseChartPredictorOutput, DensePoseChartResults


class _Neck(nn.Module):
    """Two levels: the input and a 2x average pool of it."""

    def forward(self, x):
        return (x, F.avg_pool2d(x, 2))


class _FakeRoIHead(nn.Module):
    """Implements the public branch contract ``forward_branches``."""

    BRANCH_OUTPUTS = ('densepose', 'densepose_feats', 'keypoint', 'keypoint_feats')

    def __init__(self, channels: int, size: int = 8) -> None:
        super().__init__()
        self.size = size
        self.dp = nn.Conv2d(channels, 2 + 25 * 3, 1)
        self.kpt = nn.Conv2d(channels, 17, 1)
        self.calls = []

    def forward_branches(self, x, rois, names):
        self.calls.append((tuple(names), rois.clone()))
        f = F.adaptive_avg_pool2d(x[0][rois[:, 0].long()], self.size)
        out = self.dp(f)
        all_out = dict(
            densepose=DensePoseChartPredictorOutput(out[:, :2], out[:, 2:27],
                                                    out[:, 27:52].sigmoid(),
                                                    out[:, 52:].sigmoid()),
            densepose_feats=f, keypoint=self.kpt(f), keypoint_feats=f)
        return {n: all_out[n] for n in names}


@MODELS.register_module(force=True)
class FakeDistillDetector(BaseModel):
    """Conv + BN backbone, a two-level 'neck', a RoI head with the
    ``forward_branches`` contract; predicts two fixed boxes (scores 0.9 and
    0.2); records what it is given."""

    def __init__(self, in_channels: int = 3, channels: int = 4, data_preprocessor=None,
                 init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1),
                                      nn.BatchNorm2d(channels), nn.ReLU())
        self.neck = _Neck()
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
        self.extract_feat(x)
        for ds in data_samples:
            ds.pred_instances = InstanceData(
                bboxes=torch.tensor([[2., 2., 12., 14.], [0., 0., 4., 4.]]),
                scores=torch.tensor([0.9, 0.2]), labels=torch.zeros(2, dtype=torch.long))
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


BRANCHES = dict(branch_head='roi_head', branch_inputs='neck')


def _build(distill_losses=None, distiller=None, **kwargs):
    """The algorithm on fake detectors; ``distill_losses`` (default: the
    transfer term) and ``distiller`` extras go into the distiller config."""
    distiller = dict(distiller or {})
    distiller['distill_losses'] = (dict(loss_transfer=FEAT)
                                   if distill_losses is None else distill_losses)
    cfg = dict(student=dict(type='FakeDistillDetector', channels=4),
               teacher=dict(type='FakeDistillDetector', channels=4),
               allow_uninitialized_teacher=True, distiller=distiller)
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


def test_losses_are_prefixed_not_reweighted():
    """The student's losses keep the weights of its own loss configs: the
    algorithm only prefixes them."""
    model = _build()
    inputs = torch.randn(2, 3, 16, 16)
    losses = model.loss(inputs, _samples())
    assert set(losses) == {'student.loss_cls', 'student.loss_densepose_I',
                           'student.loss_keypoint', 'student.acc', 'distill.loss_transfer'}
    raw = model.student.loss(inputs, _samples())
    for key in ('loss_densepose_I', 'loss_keypoint', 'loss_cls'):
        torch.testing.assert_close(losses[f'student.{key}'], raw[key])
    assert losses['student.acc'].item() == 50.0
    # the transfer loss by hand: sum over the two levels of MSE * 0.1
    s = model.student.extract_feat(inputs)
    with torch.no_grad():
        t = model.teacher.extract_feat(inputs)
    expected = 0.1 * sum(F.mse_loss(a, b) for a, b in zip(s, t))
    torch.testing.assert_close(losses['distill.loss_transfer'], expected)


CSI_STUDENT = dict(type='CSIDetector', mtn=dict(type='FakeRecordingMTN'),
                   detector=dict(type='FakeDistillDetector', channels=4))


def test_teacher_gets_image_csi_student_gets_csi_through_mtn():
    model = _build(student=CSI_STUDENT, student_input_key='csi')
    inputs = _paired()
    model.loss(inputs, _samples())
    assert len(model.teacher.seen_inputs) == 1
    assert model.teacher.seen_inputs[0] is inputs['img']
    amp, phase = model.student.mtn.seen[0]
    assert torch.equal(amp, inputs['csi'][:, 0]) and torch.equal(phase, inputs['csi'][:, 1])
    # the detector saw the MTN output, resized to batch_input_shape (16x16)
    s_in = model.student.detector.seen_inputs[0]
    assert s_in.shape == (2, 3, 16, 16)
    assert not torch.equal(s_in, inputs['img'])
    # the transfer term reads the detector's neck (names relative to it)
    assert model.distiller.recorded_modules('student') == {'neck'}
    # predict is the student's, on the CSI
    model.eval()
    model.student.detector.seen_inputs.clear()
    model.predict(inputs, _samples())
    assert model.student.detector.seen_inputs[0].shape == (2, 3, 16, 16)
    assert not hasattr(model, 'predict_with')


def test_teacher_val_step_and_val_step():
    """``val_step`` gives the student's predictions, ``teacher_val_step``
    the teacher's, both through the algorithm's data preprocessor."""
    model = _build(student=CSI_STUDENT, student_input_key='csi',
                   data_preprocessor=dict(type='PairedDataPreprocessor'))
    model.eval()
    inputs = _paired(1)
    data = dict(inputs=dict(img=[inputs['img'][0]], csi=[inputs['csi'][0]]),
                data_samples=_samples(1))
    out = model.teacher_val_step(data)
    assert model.teacher.seen_inputs[-1].shape == (1, 3, 16, 16)
    assert torch.equal(model.teacher.seen_inputs[-1][0], inputs['img'][0])
    assert out[0].pred_instances.scores.tolist() == pytest.approx([0.9, 0.2])
    assert model.student.detector.seen_inputs == []
    model.val_step(data)
    assert len(model.student.mtn.seen) == 1 and len(model.teacher.seen_inputs) == 1


def test_removed_keys_name_the_new_place():
    with pytest.raises(ValueError, match="'student_mtn'.*CSIDetector"):
        _build(student_mtn=dict(type='FakeRecordingMTN'))
    with pytest.raises(ValueError, match="'resize_student_input'.*resize_to_input_shape"):
        _build(resize_student_input=False)


def test_version_2_checkpoint_loads_into_csi_student():
    """Checkpoints of the algorithm before CSIDetector (``student_mtn.*``,
    ``student.*``, ``extra_teachers.*``) load with the keys moved."""
    model = _build(student=CSI_STUDENT, student_input_key='csi')
    state = model.state_dict()
    old = type(state)()
    for key, value in state.items():
        if key.startswith('student.mtn.'):
            old['student_mtn.' + key[len('student.mtn.'):]] = value + 1
        elif key.startswith('student.detector.'):
            old['student.' + key[len('student.detector.'):]] = value + 1
        else:
            old[key] = value
    old._metadata = type(state)({'': dict(version=2)})
    fresh = _build(student=CSI_STUDENT, student_input_key='csi')
    fresh.load_state_dict(old)
    assert torch.equal(fresh.student.mtn.fc.weight, model.student.mtn.fc.weight + 1)
    assert torch.equal(fresh.student.detector.backbone[0].weight,
                       model.student.detector.backbone[0].weight + 1)


def test_teacher_frozen_grads_stay_none():
    model = _build(distill_losses=dict(
        loss_transfer=FEAT,
        loss_dp_kl=dict(type='DensePoseKLLoss', student=dict(branch='densepose'),
                        teacher=dict(branch='densepose')),
        loss_kpt=dict(type='HeatmapDistillLoss', student=dict(branch='keypoint'),
                      teacher=dict(branch='keypoint'))), distiller=BRANCHES)
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
    # both heads ran once, on the same RoIs (GT boxes, batch index prepended)
    assert model.student.roi_head.calls[-1][0] == ('densepose', 'keypoint')
    assert len(model.teacher.roi_head.calls) == 1
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
            loss_x=dict(type='DensePoseKLLoss', student=dict(branch='densepose'),
                        teacher=dict(branch='keypoint'))), distiller=BRANCHES)
    with pytest.raises(ValueError, match='same output'):
        _build(distill_losses=dict(
            loss_x=dict(type='DensePoseKLLoss', student=dict(branch='densepose'),
                        teacher='neck.0')), distiller=BRANCHES)
    # branch terms name the head and its inputs: nothing is assumed
    dp_kl = dict(type='DensePoseKLLoss', student=dict(branch='densepose'),
                 teacher=dict(branch='densepose'))
    with pytest.raises(ValueError, match='set branch_head'):
        _build(distill_losses=dict(loss_x=dp_kl))
    with pytest.raises(ValueError, match="no module 'rpn_head'"):
        _build(distill_losses=dict(loss_x=dp_kl),
               distiller=dict(branch_head='rpn_head', branch_inputs='neck'))
    with pytest.raises(ValueError, match='has no forward_branches'):
        _build(distill_losses=dict(loss_x=dp_kl),
               distiller=dict(branch_head='backbone', branch_inputs='neck'))
    with pytest.raises(ValueError, match="loss_x.*no branch output 'densepos'"):
        _build(distill_losses=dict(loss_x=dict(dp_kl, student=dict(branch='densepos'),
                                               teacher=dict(branch='densepos'))),
               distiller=BRANCHES)


def test_miswired_inputs_and_weights_raise_naming_key():
    model = _build(student_input_key='csi')
    with pytest.raises(KeyError, match="student_input_key 'csi'"):
        model.loss(dict(img=torch.randn(1, 3, 16, 16)), _samples(1))
    with pytest.raises(KeyError, match="student_input_key 'csi'.*single tensor"):
        model.loss(torch.randn(1, 3, 16, 16), _samples(1))


def test_weight_set_twice_is_an_error():
    """Each weight has one home: the student's branch loss configs and each
    term's loss_weight."""
    with pytest.raises(ValueError, match="'student_loss_weights'.*twice"):
        _build(student_loss_weights=dict(loss_densepose=0.6))
    with pytest.raises(ValueError, match="loss_transfer.*sets 'weight'"):
        _build(distill_losses=dict(loss_transfer=dict(FEAT, weight=0.1)))
    # former top-level distiller keys name their new place
    with pytest.raises(ValueError, match="'distill_rois'.*roi_source"):
        _build(distill_rois='gt')
    with pytest.raises(TypeError, match='unexpected keys'):
        _build(student_los_weights=dict(loss_densepose=0.6))


def test_channel_mismatch_and_connector():
    student = dict(type='FakeDistillDetector', channels=2)
    model = _build(student=student)
    with pytest.raises(ValueError, match=r"loss_transfer.*'neck.0' has 2 channels.*has 4"):
        model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    model = _build(student=student, distill_losses=dict(
        loss_transfer=dict(FEAT, connector=dict(in_channels=2, out_channels=4))))
    losses = model.loss(torch.randn(1, 3, 16, 16), _samples(1))
    losses['distill.loss_transfer'].backward()
    assert model.distiller.connectors['loss_transfer'][0].weight.grad is not None


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
    for conv in model.distiller.connectors['loss_transfer']:
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
                   distiller=dict(BRANCHES, roi_source='teacher'), distill_losses=dict(
                       loss_dp_kl=dict(type='DensePoseKLLoss', student=dict(branch='densepose'),
                                       teacher=dict(branch='densepose'))))
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
    dp = dict(branch='densepose')
    model = TeacherStudentDistiller(
        teacher=det, student=copy.deepcopy(det), allow_uninitialized_teacher=True,
        distiller=dict(
            type='OutputMatchDistiller', branch_head='roi_head', branch_inputs='neck',
            distill_losses=dict(
                loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1,
                                   student=['neck.0', 'neck.1', 'neck.2', 'neck.3'],
                                   teacher=['neck.0', 'neck.1', 'neck.2', 'neck.3']),
                loss_dp_kl=dict(type='DensePoseKLLoss', student=dp, teacher=dp),
                loss_dp_uv=dict(type='DensePoseUVLoss', fg_thr=0.0, part_thr=0.0,
                                student=dp, teacher=dp))))
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


@MODELS.register_module(force=True)
class FakePseudoLabelTeacher(FakeDistillDetector):
    """Predicts one person at ``box`` with keypoints and/or a DensePose chart
    (fine part 3 everywhere), like a Keypoint R-CNN / DensePose R-CNN."""

    def __init__(self, box=(2., 2., 12., 14.), with_keypoints=False, with_densepose=False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.box = box
        self.with_keypoints = with_keypoints
        self.with_densepose = with_densepose

    def predict(self, x, data_samples, rescale=True):
        self.extract_feat(x)
        for ds in data_samples:
            pred = InstanceData(bboxes=torch.tensor([self.box]), scores=torch.tensor([0.9]),
                                labels=torch.zeros(1, dtype=torch.long))
            if self.with_keypoints:
                pred.keypoints = torch.full((1, 17, 2), 5.0)
                pred.keypoint_scores = torch.ones(1, 17)
            if self.with_densepose:
                w, h = int(self.box[2] - self.box[0]), int(self.box[3] - self.box[1])
                pred.densepose = DensePoseChartResults([torch.full((h, w), 3, dtype=torch.uint8)],
                                                       [torch.full((2, h, w), 0.5)])
            ds.pred_instances = pred
        return data_samples


def test_online_pseudo_labels_from_two_teachers():
    """A DensePose teacher and a keypoint teacher, merged by box matching:
    the student's ground truth has keypoints and DensePose on one person."""
    kpt_teacher = dict(type='FakePseudoLabelTeacher', box=(3., 2., 12., 15.),
                       with_keypoints=True)
    model = _build(teacher=dict(type='FakePseudoLabelTeacher', with_densepose=True),
                   extra_teachers=[dict(model=kpt_teacher)], supervision='teacher',
                   pseudo_label_cfg=dict(score_thr=0.5, match_iou_thr=0.5, num_points=20))
    model.train()
    model.loss(torch.randn(2, 3, 16, 16), _samples())
    gt = model.student.seen_samples[-1][0].gt_instances
    assert gt.bboxes.tolist() == [[2., 2., 12., 14.]]  # the first teacher's box
    assert gt.keypoints_visible.tolist() == [[1.0] * 17]
    assert gt.keypoints[0, 0].tolist() == [5.0, 5.0]
    assert gt.densepose.has_dp.tolist() == [True]
    assert set(gt.densepose.points[0][:, 2].tolist()) == {3.0}
    # both teachers saw the image, both stay frozen and are checked
    extra = model.pseudo_labeler.teachers[0]
    assert len(extra.seen_inputs) == 1
    assert set(model.teachers()) == {'teacher', 'pseudo_labeler.teachers.0'}
    extra.backbone[1].train()
    with pytest.raises(RuntimeError,
                       match='pseudo_labeler.teachers.0 modules are in train mode'):
        model.check_teacher_frozen()
    model.train()
    model.check_teacher_frozen()
    # no match (IoU below the threshold): the person has no visible keypoint
    model.pseudo_labeler.merge_cfg['match_iou_thr'] = 0.95
    model.loss(torch.randn(2, 3, 16, 16), _samples())
    gt = model.student.seen_samples[-1][0].gt_instances
    assert gt.keypoints_visible.sum().item() == 0 and gt.densepose.has_dp.tolist() == [True]
    with pytest.raises(ValueError, match="extra_teachers only make pseudo-labels"):
        _build(extra_teachers=[dict(model=kpt_teacher)])
    with pytest.raises(ValueError, match=r"extra_teachers\[0\]: unknown keys \['ckpt_path'\]"):
        _build(extra_teachers=[dict(model=kpt_teacher, ckpt_path='x')], supervision='teacher')


def test_version1_checkpoint_connectors_load():
    """Before the algorithm/distiller split the connectors were top-level
    (``connectors.*``); such state dicts still load."""
    student = dict(type='FakeDistillDetector', channels=2)
    losses = dict(loss_transfer=dict(FEAT, connector=dict(in_channels=2, out_channels=4)))
    model = _build(student=student, distill_losses=losses)
    state = model.state_dict()
    old = type(state)((k.replace('distiller.connectors.', 'connectors.'), v.clone() + 1)
                      for k, v in state.items())
    old._metadata = type(state)({'': dict(version=1)})
    fresh = _build(student=student, distill_losses=losses)
    fresh.load_state_dict(old)
    conv = fresh.distiller.connectors['loss_transfer'][0]
    torch.testing.assert_close(conv.weight, state['distiller.connectors.loss_transfer.0.weight']
                               + 1)


def test_teacher_paths_resolve_from_the_working_directory(tmp_path, monkeypatch):
    """teacher_cfg / teacher_ckpt resolve as every mmengine config path
    (``load_from``): relative to the working directory, nothing else."""
    (tmp_path / 'cfgs').mkdir()
    (tmp_path / 'cfgs' / 't.py').write_text("model = dict(type='FakeDistillDetector')\n")
    torch.save(dict(state_dict=FakeDistillDetector().state_dict()), tmp_path / 't.pth')
    monkeypatch.chdir(tmp_path)
    model = _build(teacher=None, teacher_cfg='cfgs/t.py', teacher_ckpt='t.pth',
                   allow_uninitialized_teacher=False)
    assert isinstance(model.teacher, FakeDistillDetector)
    monkeypatch.chdir(tmp_path / 'cfgs')
    with pytest.raises(FileNotFoundError, match=r'teacher_cfg: config file not found: cfgs/t.py'):
        _build(teacher=None, teacher_cfg='cfgs/t.py', teacher_ckpt='t.pth')
