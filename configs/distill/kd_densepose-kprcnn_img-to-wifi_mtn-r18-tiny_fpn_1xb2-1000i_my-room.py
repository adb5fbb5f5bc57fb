# A CSI student for YOUR room: the quickstart's CPU student recipe
# (`kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py`:
# MTN on Person-in-WiFi-layout CSI, 150x3x3 = 5 packets x 30 subcarriers x 3x3
# antennas, into the teacher's R18-tiny-FPN DensePose + keypoint R-CNN) trained
# on a recording of your own camera + WiFi card. Template: set `data_root`
# to your session and `teacher_ckpt` to an image teacher of this architecture
# that sees your camera well. Commands (README, "Your own room"):
#   1. python tools/misc/record_paired.py --camera 0 --source SOURCE \
#          --out data/my_room/session1 --duration 600
#   2. python tools/dataset_converters/csi_capture_to_frames.py \
#          data/my_room/session1/csi.dat --out data/my_room/session1/paired \
#          --frame-timestamps data/my_room/session1/frame_timestamps.txt \
#          --absolute-times --frames data/my_room/session1/frames \
#          --layout person-in-wifi
#   3. python tools/misc/generate_pseudo_labels.py TEACHER_CFG TEACHER_CKPT \
#          --img-dir data/my_room/session1/frames \
#          --ann-file data/my_room/session1/paired/annotations/paired_skeleton.json \
#          --out data/my_room/session1/paired/annotations/pseudo_train.json
#   4. python tools/analysis/compute_csi_stats.py THIS_CONFIG (put the printed
#      csi_mean / csi_std below), then python tools/train.py THIS_CONFIG
#   5. python demo/wifi_live_demo.py THIS_CONFIG work_dirs/.../iter_1000.pth \
#          --source SOURCE --rate 25 --window 0.2 --serve 8080
# Any CSI card works: the converter maps other subcarrier / antenna counts
# onto 5x30x3x3 (an ESP32's 1x1 link is repeated over the 3x3 antennas).
# The distiller is written out here (the quickstart student's, unchanged)
# rather than inherited, to stay within two levels of `_base_`.
_base_ = ['./teachers/densepose-kprcnn_r18-tiny_fpn_1xb2-1600i_synthetic-wifi.py']

data_root = 'data/my_room/session1/'
teacher_cfg = 'configs/distill/teachers/densepose-kprcnn_r18-tiny_fpn_1xb2-1600i_synthetic-wifi.py'
teacher_ckpt = 'work_dirs/quickstart/teacher/iter_1600.pth'
fpn_levels = ['neck.0', 'neck.1', 'neck.2', 'neck.3']  # P2-P5

student = _base_.model
student.pop('data_preprocessor')
student.roi_head.densepose_predictor.loss_densepose.loss_weight = 0.6
student.roi_head.keypoint_head.loss_weight = 0.3
student.init_cfg = dict(type='Pretrained', checkpoint=teacher_ckpt)

model = dict(
    _delete_=True,
    type='TeacherStudentDistiller',
    data_preprocessor=dict(
        type='PairedDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32,
        # replace with compute_csi_stats.py's figures for your recording
        csi_mean=[1.0, 0.0], csi_std=[1.0, 1.0]),
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    teacher_input_key='img',
    student_input_key='csi',
    student_mtn=dict(
        type='ModalityTranslationNetwork', amp_shape=_base_.csi_shape, encoder_dims=(256, 128),
        fusion_dims=(256, ), fusion_size=24, conv_channels=(32, 64), out_size=(192, 256),
        norm_cfg=dict(type='BN')),
    student=student,
    distiller=dict(
        type='ConfigurableDistiller',
        distill_losses=dict(
            loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1, student=fpn_levels,
                               teacher=fpn_levels))),
    supervision='gt')

# record_paired.py + the converter write frames/ and paired/{csi,annotations}
paired_data = dict(type='PairedWiFiDensePoseDataset', data_root=data_root,
                   data_prefix=dict(img='frames/', csi='paired/'))
train_dataloader = dict(
    dataset=dict(paired_data, ann_file='paired/annotations/pseudo_train.json',
                 pipeline=_base_.paired_train_pipeline))
# no held-out labels in a fresh room: validate on a second session's pseudo
# labels when you have one (set its ann_file here and in the evaluators)
val_dataloader = dict(
    dataset=dict(paired_data, ann_file='paired/annotations/pseudo_train.json',
                 pipeline=_base_.paired_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'paired/annotations/pseudo_train.json',
         metric='bbox'),
    dict(type='CocoKeypointMetric', ann_file=data_root + 'paired/annotations/pseudo_train.json'),
]
test_evaluator = val_evaluator

train_cfg = dict(max_iters=1000)
default_hooks = dict(checkpoint=dict(interval=1000))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=1000, by_epoch=False, milestones=[800], gamma=0.1)
]
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'student.': dict(lr_mult=0.1)}))
custom_hooks = [dict(type='TeacherFrozenCheckHook', interval=100)]
