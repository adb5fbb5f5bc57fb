# Same-modality compression: a frozen DensePose R-CNN R101-FPN teacher distils
# into an R50-FPN student on DensePose-COCO (both see the same image).
# Terms: FPN P2-P5 transfer (MSE), DensePose part KL and U/V on the teacher's
# confident pixels, all on the GT boxes; the student keeps its s1x losses.
# The teacher checkpoint is a local file (e.g. converted from detectron2's
# densepose_rcnn_R_101_FPN_s1x); a missing file is an error naming it.
_base_ = [
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

teacher_cfg = 'configs/distill/teachers/densepose-rcnn_r101_fpn_s1x_densepose-coco.py'
teacher_ckpt = 'data/checkpoints/densepose-rcnn_r101_fpn_s1x_densepose-coco.pth'
pretrained = 'data/pretrained/resnet50-0676ba61.pth'
fpn_levels = ['neck.0', 'neck.1', 'neck.2', 'neck.3']  # P2-P5

student = dict(
    type='DensePoseRCNN',
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
                  frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=False),
                  norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5),
    rpn_head=dict(
        type='RPNHead', in_channels=256, feat_channels=256,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='DensePoseRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead', in_channels=256, fc_out_channels=1024, roi_feat_size=7,
            num_classes=1,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        densepose_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=2, aligned=True),
            out_channels=256, featmap_strides=[4, 8, 16, 32]),
        densepose_head=dict(type='DensePoseV1ConvXHead', in_channels=256, num_convs=8,
                            conv_channels=512),
        densepose_predictor=dict(type='DensePoseChartPredictor', in_channels=512,
                                 num_coarse_segm_channels=2),
        densepose_loss=dict(type='DensePoseChartLoss', part_weight=1.0,
                            point_regression_weight=0.01, segm_weight=5.0)),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000,
                          nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            pos_weight=-1, densepose_iou_thr=0.7, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)))

model = dict(
    type='TeacherStudentDistiller',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    teacher_input_key='img',
    student_input_key='img',
    student=student,
    distill_losses=dict(
        loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1, student=fpn_levels,
                           teacher=fpn_levels),
        loss_dp_kl=dict(type='DensePoseKLLoss', loss_weight=0.5, temperature=1.0,
                        with_coarse=True, student='densepose', teacher='densepose'),
        loss_dp_uv=dict(type='DensePoseUVLoss', loss_weight=0.1, fg_thr=0.5, part_thr=0.5,
                        student='densepose', teacher='densepose')),
    distill_rois='gt',
    max_distill_rois=32,
    supervision='gt')

val_cfg = dict(type='DistillValLoop')
custom_hooks = [
    dict(type='DistillLossWeightHook', schedule='constant'),
    dict(type='TeacherFrozenCheckHook', interval=5000),
]
