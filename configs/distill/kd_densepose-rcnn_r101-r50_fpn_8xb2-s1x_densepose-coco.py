# Same-modality compression: a frozen DensePose R-CNN R101-FPN teacher distils
# into an R50-FPN student on DensePose-COCO (both see the same image).
# Terms: FPN P2-P5 transfer (MSE), DensePose part KL and U/V on the teacher's
# confident pixels, all on the GT boxes (through both RoI heads'
# forward_branches); the student keeps its s1x losses and their weights.
# The teacher checkpoint is a local file (see the teacher config for using
# detectron2 model-zoo weights); a missing file is an error naming it.
_base_ = [
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

teacher_cfg = 'configs/distill/teachers/densepose-rcnn_r101_fpn_s1x_densepose-coco.py'
teacher_ckpt = 'data/checkpoints/densepose-rcnn_r101_fpn_s1x_densepose-coco.pth'
fpn_levels = ['neck.0', 'neck.1', 'neck.2', 'neck.3']  # P2-P5

# The student is the base R50-FPN DensePose R-CNN (ImageNet-initialised), named
# by its config file; the algorithm owns the data preprocessor.
model = dict(
    type='TeacherStudentDistiller',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    teacher_input_key='img',
    student_input_key='img',
    student=dict(cfg_path='configs/_base_/models/densepose-rcnn_r50_fpn.py'),
    distiller=dict(
        type='OutputMatchDistiller',
        branch_head='roi_head',  # its forward_branches gives the DensePose outputs
        branch_inputs='neck',  # on the FPN levels
        roi_source='gt',
        max_rois_per_img=32,
        distill_losses=dict(
            loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1, student=fpn_levels,
                               teacher=fpn_levels),
            loss_dp_kl=dict(type='DensePoseKLLoss', loss_weight=0.5, temperature=1.0,
                            with_coarse=True, student=dict(branch='densepose'),
                            teacher=dict(branch='densepose')),
            loss_dp_uv=dict(type='DensePoseUVLoss', loss_weight=0.1, fg_thr=0.5, part_thr=0.5,
                            student=dict(branch='densepose'),
                            teacher=dict(branch='densepose')))),
    supervision='gt')

val_cfg = dict(type='DistillValLoop')
custom_hooks = [
    dict(type='DistillLossWeightHook', schedule='constant'),
    dict(type='TeacherFrozenCheckHook', interval=5000),
]
