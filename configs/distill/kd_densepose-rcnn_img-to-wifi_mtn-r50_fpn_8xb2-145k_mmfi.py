# DensePose From WiFi (Geng et al., arXiv 2301.00250) in the MM-Fi layout:
# a frozen image DensePose R-CNN R50-FPN teacher sees the RGB frame; the
# student (MTN -> R50-FPN DensePose R-CNN with keypoint branch and the
# DensePose-keypoint refinement unit) sees the synchronised CSI frame.
# Training ground truth (paper): pseudo-labels of a DensePose R-CNN plus a
# Keypoint R-CNN, made online from the frames (supervision='teacher'): the
# two teachers' confident persons are merged by greedy box matching, so each
# person carries DensePose and keypoints (the same labels offline, for the
# validation annotation file: tools/misc/generate_pseudo_labels.py with
# --teacher KPT_TEACHER_CFG KPT_TEACHER_CKPT). Losses: the paper's
# (_base_/models/kd_img-to-wifi_mtn.py). Schedule (paper): batch 16 (8 GPUs
# x 2), linear warm-up 1e-5 -> 1e-3 over 2000 iterations, x0.1 every 48k,
# 145k iterations.
_base_ = [
    '../_base_/models/kd_img-to-wifi_mtn.py',
    '../_base_/datasets/mmfi.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

teacher_cfg = 'configs/densepose_rcnn/densepose-rcnn_r50_fpn_s1x_densepose-coco.py'
teacher_ckpt = 'data/checkpoints/densepose-rcnn_r50_fpn_s1x_densepose-coco.pth'
kpt_teacher_cfg = 'configs/keypoint_rcnn/keypoint-rcnn_r50_fpn_1x_coco.py'
kpt_teacher_ckpt = 'data/checkpoints/keypoint-rcnn_r50_fpn_1x_coco.pth'
frame_size = (480, 640)  # MM-Fi RGB frames (H, W); the MTN output stands for them

model = dict(
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    student=dict(
        # statistics of the pipeline's output (sanitised phase) on the training
        # split: `python tools/analysis/compute_csi_stats.py THIS_CONFIG --write-meta`
        data_preprocessor=dict(csi_stats_file=_base_.data_root + 'meta.json',
                               csi_image_shape=frame_size),
        mtn=dict(amp_shape=_base_.csi_shape, out_size=frame_size),
        detector=dict(
            cfg_path='configs/_base_/models/densepose-rcnn_r50_fpn.py',
            backbone=dict(frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                          norm_eval=False, init_cfg=None),
            roi_head=dict(
                keypoint_roi_extractor=dict(
                    type='SingleRoIExtractor',
                    roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=2,
                                   aligned=True),
                    out_channels=256, featmap_strides=[4, 8, 16, 32]),
                keypoint_head=dict(type='mmpose.KeypointRCNNHead', in_channels=256,
                                   num_convs=8, conv_channels=512, num_keypoints=17),
                refine_head=dict(type='DensePoseKeypointRefineHead', dp_channels=512,
                                 kpt_channels=512, fuse='sum', num_convs=2)))),
    # online pseudo-labels of both teachers replace the annotations ('gt' would
    # train on the annotation file, e.g. offline pseudo-labels)
    supervision='teacher',
    extra_teachers=[dict(cfg=kpt_teacher_cfg, ckpt=kpt_teacher_ckpt)],
    pseudo_label_cfg=dict(score_thr=0.7, kpt_score_thr=0.0, num_points=100,
                          match_iou_thr=0.5))

train_pipeline = [t for t in _base_.train_pipeline if t.type != 'LoadDensePoseAnnotations']
train_dataloader = dict(
    dataset=dict(ann_file='annotations/mmfi_frames_train.json',  # the frames (images list)
                 filter_cfg=dict(_delete_=True, filter_empty_gt=False), pipeline=train_pipeline))

# the s1x loops and SGD with the paper's schedule
train_cfg = dict(max_iters=145000)
# the image teacher has no keypoint branch: it is scored on boxes and DensePose
val_cfg = dict(
    type='DistillValLoop',
    teacher_evaluator=[m for m in _base_.val_evaluator if m['type'] != 'CocoKeypointMetric'])
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=2000),
    dict(type='MultiStepLR', begin=0, end=145000, by_epoch=False,
         milestones=[48000, 96000, 144000], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=1e-3))
custom_hooks = [
    dict(type='DistillLossWeightHook', schedule='constant'),
    dict(type='TeacherFrozenCheckHook', interval=5000),
]
