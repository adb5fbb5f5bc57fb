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
fpn_levels = ['neck.0', 'neck.1', 'neck.2', 'neck.3']

model = dict(
    data_preprocessor=dict(type='DetDataPreprocessor',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    student_input_key='img',
    # the tiny teacher's architecture with half its channels (an image
    # detector, not the WiFi config's CSIDetector)
    student=dict(_delete_=True, cfg_path=_base_.teacher_cfg, backbone=dict(base_channels=16),
                 neck=dict(in_channels=[16, 32, 64, 128]),
                 roi_head=dict(densepose_predictor=dict(loss_densepose=dict(loss_weight=0.6)))),
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

# the WiFi config's pipelines (same image scale) without their CSI steps
train_pipeline = [t for t in _base_.train_pipeline if 'CSI' not in t.type]
test_pipeline = [
    dict(t, meta_keys=tuple(k for k in t.meta_keys if k != 'csi_path'))
    if t.type == 'PackDensePoseInputs' else t
    for t in _base_.test_pipeline if 'CSI' not in t.type
]
train_dataloader = dict(
    dataset=dict(type='DensePoseCocoDataset', data_root=data_root,
                 ann_file='annotations/densepose_tiny_train.json',
                 data_prefix=dict(_delete_=True, img='images/'), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type='DensePoseCocoDataset', data_root=data_root,
                 ann_file='annotations/densepose_tiny_val.json',
                 data_prefix=dict(_delete_=True, img='images/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_ann_file = data_root + 'annotations/densepose_tiny_val.json'
val_evaluator = [dict(m, ann_file=val_ann_file) for m in _base_.val_evaluator]
test_evaluator = val_evaluator
