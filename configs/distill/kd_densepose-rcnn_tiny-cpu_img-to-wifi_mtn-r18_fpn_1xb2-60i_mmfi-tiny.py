# Tiny CPU cross-modal distillation (DensePose From WiFi, scaled down):
# the tiny image DensePose R-CNN teacher (a short run of its `teacher_cfg`)
# sees the frame, the student (the same tiny DensePose R-CNN + a keypoint
# branch) sees the real MM-Fi CSI frame through the MTN. A tiny Keypoint
# R-CNN (a short run of `kpt_teacher_cfg`) is the second pseudo-label
# teacher, as the paper's Keypoint R-CNN. Data: 12 real CSI frames paired with
# the tiny COCO images (tools/misc/make_tiny_paired_mmfi.py; the pairing is
# artificial). The student trains on the two teachers' online pseudo-labels,
# merged per person by box matching (supervision='teacher'), as in the paper;
# annotations serve validation only. End to end: tools/misc/run_tiny_distill.sh.
_base_ = [
    '../_base_/models/kd_img-to-wifi_mtn.py',
    '../_base_/datasets/mmfi.py',
    '../_base_/default_runtime.py',
]

data_root = 'work_dirs/tiny_paired_mmfi/'
teacher_cfg = 'configs/densepose_rcnn/densepose-rcnn_tiny_cpu_densepose-coco-tiny.py'
teacher_ckpt = 'work_dirs/tiny_distill/teacher/iter_20.pth'
kpt_teacher_cfg = 'configs/keypoint_rcnn/keypoint-rcnn_tiny_cpu_coco-tiny.py'
kpt_teacher_ckpt = 'work_dirs/tiny_distill/kpt_teacher/iter_20.pth'
img_scale = (320, 192)

model = dict(
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    student=dict(
        # amplitude / sanitised-phase statistics of the 12 training frames
        # (run_tiny_distill.sh: compute_csi_stats.py THIS_CONFIG --write-meta)
        data_preprocessor=dict(csi_stats_file=data_root + 'meta.json'),
        mtn=dict(amp_shape=_base_.csi_shape, encoder_dims=(128, 64), fusion_dims=(128, ),
                 fusion_size=24, conv_channels=(16, 32), out_size=(192, 288)),
        # the tiny teacher's architecture (its 64-channel FPN matches the
        # teacher's for the transfer loss) with a keypoint branch
        detector=dict(
            cfg_path=teacher_cfg,
            roi_head=dict(
                keypoint_roi_extractor=dict(
                    type='SingleRoIExtractor',
                    roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=2,
                                   aligned=True),
                    out_channels=64, featmap_strides=[4, 8, 16, 32]),
                keypoint_head=dict(type='mmpose.KeypointRCNNHead', in_channels=64, num_convs=2,
                                   conv_channels=64, num_keypoints=17)))),
    # online pseudo-labels of both teachers; the tiny teachers are weak
    # (20-iteration runs), hence the low score threshold
    supervision='teacher',
    extra_teachers=[dict(cfg=kpt_teacher_cfg, ckpt=kpt_teacher_ckpt)],
    pseudo_label_cfg=dict(score_thr=0.05, num_points=50, match_iou_thr=0.5))

# the MM-Fi pipelines at the tiny scale, without worker processes
train_pipeline = [dict(t, scale=img_scale) if 'scale' in t else t for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=img_scale) if 'scale' in t else t for t in _base_.test_pipeline]
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='annotations/mmfi_tiny_train.json',
                 filter_cfg=dict(min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='annotations/mmfi_tiny_val.json',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_ann_file = data_root + 'annotations/mmfi_tiny_val.json'
val_evaluator = [
    dict(type='CocoMetric', ann_file=val_ann_file, metric='bbox'),
    dict(type='DensePoseMetric', ann_file=val_ann_file, eval_data_dir=None)
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
