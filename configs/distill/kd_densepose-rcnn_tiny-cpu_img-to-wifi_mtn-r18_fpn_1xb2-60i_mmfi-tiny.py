# Tiny CPU cross-modal distillation (DensePose From WiFi, scaled down):
# the tiny image DensePose R-CNN teacher (a short run of
# configs/densepose_rcnn/densepose-rcnn_tiny_cpu_densepose-coco-tiny.py) sees
# the frame, the student sees the real MM-Fi CSI frame through the MTN.
# Data: `python tools/misc/make_tiny_paired_mmfi.py work_dirs/tiny_paired_mmfi`
# (12 real CSI frames paired with the tiny COCO images; the pairing is
# artificial, see that script). End to end: `bash tools/misc/run_tiny_distill.sh`.
_base_ = [
    '../_base_/models/densepose-rcnn_r18-tiny_fpn.py',
    '../_base_/default_runtime.py',
]

data_root = 'work_dirs/tiny_paired_mmfi/'
teacher_cfg = 'configs/densepose_rcnn/densepose-rcnn_tiny_cpu_densepose-coco-tiny.py'
teacher_ckpt = 'work_dirs/tiny_distill/teacher/iter_20.pth'
img_scale = (320, 192)
csi_shape = (3, 114, 10)
fpn_levels = ['neck.0', 'neck.1', 'neck.2', 'neck.3']  # P2-P5

# The student is the tiny teacher's architecture (so its 64-channel FPN matches
# the teacher's for the transfer loss); the distiller owns the data preprocessor.
student = _base_.model
student.pop('data_preprocessor')

model = dict(
    _delete_=True,
    type='TeacherStudentDistiller',
    data_preprocessor=dict(
        type='PairedDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32,
        # amplitude / phase statistics of the 12 real MM-Fi frames
        csi_mean=[40.6, 0.0], csi_std=[4.0, 1.8]),
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    teacher_input_key='img',
    student_input_key='csi',
    student_mtn=dict(
        type='ModalityTranslationNetwork', amp_shape=csi_shape, encoder_dims=(128, 64),
        fusion_dims=(128, ), fusion_size=24, conv_channels=(16, 32), out_size=(192, 288),
        norm_cfg=dict(type='BN')),
    student=student,
    # paper: L = L_cls + L_box + 0.6 L_dp + 0.3 L_kp + 0.1 L_tr (the tiny models have
    # no keypoint branch, so no loss_keypoint weight: naming one is an error)
    student_loss_weights=dict(loss_densepose=0.6),
    distill_losses=dict(
        loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1, student=fpn_levels,
                           teacher=fpn_levels)),
    supervision='gt')

train_pipeline = [
    dict(type='LoadImageFromFileWithId'),
    dict(type='LoadDensePoseAnnotations', with_bbox=True, with_keypoints=True,
         with_densepose=True),
    dict(type='LoadCSIFromFile', expected_shape=csi_shape),
    dict(type='CSIPhaseSanitize'),
    dict(type='PackCSI'),
    dict(type='DensePoseResize', scale=img_scale, keep_ratio=True),
    dict(type='PackDensePoseInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFileWithId'),
    dict(type='LoadCSIFromFile', expected_shape=csi_shape),
    dict(type='CSIPhaseSanitize'),
    dict(type='PackCSI'),
    dict(type='DensePoseResize', scale=img_scale, keep_ratio=True),
    dict(type='PackDensePoseInputs',
         meta_keys=('img_id', 'img_path', 'csi_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]
dataset_type = 'MMFiDensePoseDataset'
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/mmfi_tiny_train.json',
                 data_prefix=dict(img='', csi=''),
                 filter_cfg=dict(filter_empty_gt=True, min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/mmfi_tiny_val.json', data_prefix=dict(img='', csi=''),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/mmfi_tiny_val.json',
         metric='bbox'),
    dict(type='DensePoseMetric', ann_file=data_root + 'annotations/mmfi_tiny_val.json',
         eval_data_dir=None)
]
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=60, val_interval=60)
val_cfg = dict(type='DistillValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
]
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
                     clip_grad=dict(max_norm=10.0))
custom_hooks = [
    dict(type='DistillLossWeightHook', schedule='constant'),
    dict(type='TeacherFrozenCheckHook', interval=10),
]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=60, max_keep_ckpts=1),
    visualization=dict(type='DetVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_processor = dict(window_size=1)
randomness = dict(seed=0)
