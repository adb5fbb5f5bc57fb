# Copyright (c) mmdensekd contributors. All rights reserved.
"""The distiller knows no architecture: a plain mmdet Faster R-CNN student
and teacher distilled from a config file alone (FPN feature terms only)."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmdensekd.models  # noqa: F401
from mmdensekd.models.distillers import OutputMatchDistiller
from mmdensekd.registry import MODELS

# A tiny Faster R-CNN (ResNet-18 layout at 1/8 width, 16-channel FPN): plain
# mmdet modules only, no DensePose / keypoint branch, no forward_branches.
FASTER_RCNN_CFG = """
default_scope = 'mmdet'
det = dict(
    type='FasterRCNN',
    backbone=dict(type='ResNet', depth=18, base_channels=8, num_stages=4,
                  out_indices=(0, 1, 2, 3), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                  style='pytorch', init_cfg=None),
    neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=5),
    rpn_head=dict(
        type='RPNHead', in_channels=16, feat_channels=16,
        anchor_generator=dict(type='AnchorGenerator', scales=[4], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                        target_stds=[1.0] * 4),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=16, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead', in_channels=16, fc_out_channels=32, roi_feat_size=7,
            num_classes=1,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=32, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=100, max_per_img=50, nms=dict(type='nms', iou_threshold=0.7),
                          min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=32, pos_fraction=0.25, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=100, max_per_img=50, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10)))
fpn = ['neck.0', 'neck.1', 'neck.2', 'neck.3']
model = dict(
    type='TeacherStudentDistiller',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3),
    teacher=det,
    allow_uninitialized_teacher=True,
    student=det,
    distiller=dict(
        type='OutputMatchDistiller',
        distill_losses=dict(
            loss_fpn=dict(type='FeatureMSELoss', loss_weight=1.0, student=fpn, teacher=fpn),
            # any module path works, here one FPN output conv
            loss_p2conv=dict(type='FeatureMSELoss', loss_weight=0.5,
                             student='neck.fpn_convs.0', teacher='neck.fpn_convs.0'))))
"""


def _batch(n=2, size=64):
    torch.manual_seed(5)
    samples = []
    for i in range(n):
        ds = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                         pad_shape=(size, size), batch_input_shape=(size, size),
                                         scale_factor=(1.0, 1.0)))
        ds.gt_instances = InstanceData(bboxes=torch.tensor([[8. + i, 10., 40., 52.]]),
                                       labels=torch.zeros(1, dtype=torch.long))
        samples.append(ds)
    return dict(inputs=[torch.rand(3, size, size) * 255 for _ in range(n)],
                data_samples=samples)


def test_faster_rcnn_distillation_from_config_alone(tmp_path):
    cfg_file = tmp_path / 'kd_faster_rcnn.py'
    cfg_file.write_text(FASTER_RCNN_CFG)
    cfg = Config.fromfile(str(cfg_file))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.student).__name__ == 'FasterRCNN'
    assert isinstance(model.distiller, OutputMatchDistiller)
    assert model.distiller.recorded_modules('teacher') == {'neck', 'neck.fpn_convs.0'}
    model.train()
    teacher_state = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.005, momentum=0.9))
    history = []
    for _ in range(4):
        data = model.data_preprocessor(_batch(), True)
        losses = model(**data, mode='loss')
        assert {'distill.loss_fpn', 'distill.loss_p2conv', 'student.loss_rpn_cls',
                'student.loss_cls', 'student.loss_bbox'} <= set(losses)
        total, _ = model.parse_losses(losses)
        assert torch.isfinite(total)
        optim.zero_grad()
        total.backward()
        # gradients reach the student only
        assert all(p.grad is None for p in model.teacher.parameters())
        assert model.student.backbone.conv1.weight.grad.abs().sum() > 0
        assert model.student.neck.fpn_convs[0].conv.weight.grad.abs().sum() > 0
        optim.step()
        history.append(losses['distill.loss_fpn'].item())
    assert history[-1] < history[0], history
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_state[k]), k
    model.check_teacher_frozen()


def test_branch_terms_need_a_head_with_forward_branches(tmp_path):
    """Output-level terms go through forward_branches only: a Faster R-CNN
    RoI head has none, which is an error naming it."""
    cfg_file = tmp_path / 'kd_faster_rcnn.py'
    cfg_file.write_text(FASTER_RCNN_CFG)
    cfg = Config.fromfile(str(cfg_file))
    cfg.model.distiller = dict(
        type='OutputMatchDistiller', branch_head='roi_head', branch_inputs='neck',
        distill_losses=dict(loss_kpt=dict(type='HeatmapDistillLoss',
                                          student=dict(branch='keypoint'),
                                          teacher=dict(branch='keypoint'))))
    init_default_scope('mmdet')
    with pytest.raises(ValueError, match=r"'roi_head' \(StandardRoIHead\) has no forward_bra"):
        MODELS.build(cfg.model)
