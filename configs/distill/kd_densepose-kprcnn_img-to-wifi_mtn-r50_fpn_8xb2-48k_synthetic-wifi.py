# The GPU full-size cross-modal distillation of the quickstart's recipe
# (DensePose From WiFi; the CPU-sized config is
# `kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py`):
# the frozen image teacher of
# `teachers/densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi.py` (R50-FPN
# DensePose + keypoint R-CNN) sees the 640x480 camera frame; the student sees
# only the Person-in-WiFi-layout CSI of the same simulated scene (150x3x3
# amplitude + phase: 5 packets x 30 subcarriers, 3x3 antennas) through the
# modality translation network (the paper's sizes, output 480x640), and is
# the teacher's architecture. It is supervised by the teacher's pseudo labels
# (`annotations/pseudo_train.json` of `tools/misc/generate_pseudo_labels.py`)
# with the paper's losses (_base_/models/kd_img-to-wifi_mtn.py). Unlike the
# paper, the student is initialised from the teacher, as in the quickstart.
# The commands of the pair are in the README (GPU recipe).
_base_ = [
    '../_base_/models/kd_img-to-wifi_mtn.py',
    '../_base_/datasets/synthetic_wifi_640x480.py',
    '../_base_/schedules/schedule_adamw_48k_kd-wifi.py',
    '../_base_/default_runtime.py',
]

teacher_cfg = 'configs/distill/teachers/densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi.py'
teacher_ckpt = 'work_dirs/densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi/iter_24000.pth'
frame_size = (480, 640)  # the generated frames (H, W); the MTN output stands for them

model = dict(
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    student=dict(
        # amplitude / sanitised-phase statistics of the training split, in the
        # dataset's meta file (the generator writes them)
        data_preprocessor=dict(csi_stats_file=_base_.data_root + 'meta.json',
                               csi_image_shape=frame_size),
        # the paper's MTN sizes (encoders 512-256, fusion 512 -> 24x24, convs
        # 64 / 128, deconvolutions) up to the frame size
        mtn=dict(amp_shape=_base_.csi_shape, out_size=frame_size, norm_cfg=dict(type='SyncBN')),
        detector=dict(
            cfg_path=teacher_cfg,
            # the MTN output is not an image: every stage trains, with its
            # BatchNorm synchronised over the 8 GPUs (2 images each; plain BN
            # in one process; a multi-process run on CPUs (gloo) needs
            # `norm_cfg.type=BN` here and in the MTN); the ImageNet weights
            # are not read: the whole detector is the teacher's
            backbone=dict(frozen_stages=-1, norm_cfg=dict(type='SyncBN', requires_grad=True),
                          norm_eval=False, init_cfg=None),
            # it starts from the teacher's weights, so its heads already read
            # teacher-like FPN features and the MTN learns to produce them (as
            # the quickstart student)
            init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt))))

paired_data = dict(type='PairedWiFiDensePoseDataset', data_prefix=dict(img='', csi=''))
train_dataloader = dict(
    dataset=dict(paired_data, ann_file='annotations/pseudo_train.json',
                 pipeline=_base_.paired_train_pipeline))
val_dataloader = dict(dataset=dict(paired_data, pipeline=_base_.paired_test_pipeline))
test_dataloader = dict(dataset=dict(paired_data, pipeline=_base_.paired_test_pipeline))

default_hooks = dict(checkpoint=dict(interval=8000, max_keep_ckpts=2))
custom_hooks = [dict(type='TeacherFrozenCheckHook', interval=1000)]
randomness = dict(seed=0)
