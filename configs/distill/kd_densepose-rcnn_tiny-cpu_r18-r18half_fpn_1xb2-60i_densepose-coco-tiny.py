# Tiny CPU same-modality compression: the tiny image DensePose R-CNN teacher
# (R18 at half width, 64-channel FPN) distils into a quarter-width R18 student
# with the same 64-channel FPN, on the tiny DensePose-COCO set, with all three
# kinds of terms: FPN transfer, DensePose part KL and U/V on teacher-confident
# pixels (both RoI heads' forward_branches run on the GT boxes). The student
# trains on the real annotations (supervision='gt').
#   python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco
#   python tools/train.py THIS_CONFIG --cfg-options model.teacher_ckpt=TEACHER.pth
_base_ = ['./kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py']

data_root = 'work_dirs/tiny_densepose_coco/'
img_scale = (320, 192)
fpn_levels = ['neck.0', 'neck.1', 'neck.2', 'neck.3']

model = dict(
    data_preprocessor=dict(_delete_=True, type='DetDataPreprocessor',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    student_mtn=None,
    student_input_key='img',
    # the student without the WiFi config's keypoint branch
    student=dict(backbone=dict(base_channels=16), neck=dict(in_channels=[16, 32, 64, 128]),
                 roi_head=dict(keypoint_roi_extractor=None, keypoint_head=None)),
    distiller=dict(
        branch_head='roi_head',
        branch_inputs='neck',
        roi_source='gt',
        distill_losses=dict(
            loss_dp_kl=dict(type='DensePoseKLLoss', loss_weight=0.5, with_coarse=True,
                            student=dict(branch='densepose'), teacher=dict(branch='densepose')),
            loss_dp_uv=dict(type='DensePoseUVLoss', loss_weight=0.1, fg_thr=0.5, part_thr=0.3,
                            student=dict(branch='densepose'),
                            teacher=dict(branch='densepose')))),
    supervision='gt',
    extra_teachers=None,
    pseudo_label_cfg=None)

train_pipeline = [
    dict(type='LoadImageFromFileWithId'),
    dict(type='LoadDensePoseAnnotations', with_bbox=True, with_keypoints=True,
         with_densepose=True),
    dict(type='DensePoseResize', scale=img_scale, keep_ratio=True),
    dict(type='PackDensePoseInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFileWithId'),
    dict(type='DensePoseResize', scale=img_scale, keep_ratio=True),
    dict(type='PackDensePoseInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(_delete_=True, type='DensePoseCocoDataset', data_root=data_root,
                 ann_file='annotations/densepose_tiny_train.json',
                 data_prefix=dict(img='images/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='DensePoseCocoDataset', data_root=data_root,
                 ann_file='annotations/densepose_tiny_val.json',
                 data_prefix=dict(img='images/'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/densepose_tiny_val.json',
         metric='bbox'),
    dict(type='DensePoseMetric', ann_file=data_root + 'annotations/densepose_tiny_val.json',
         eval_data_dir=None)
]
test_evaluator = val_evaluator
