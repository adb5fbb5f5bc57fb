# Cross-modal distillation of DensePose From WiFi (Geng et al. 2022): the
# frozen image teacher (`teacher_cfg`, `teacher_ckpt`) sees the camera frame;
# the student, a CSIDetector (modality translation network + detector), sees
# only the CSI of the same instant. The paper's losses:
#   L = L_cls + L_box + 0.6 L_dp + 0.3 L_kp + 0.1 L_tr (FPN P2-P5 MSE).
# A child config sets the teacher (`teacher_cfg`, `teacher_ckpt`), the
# student's detector (by config file: `detector=dict(cfg_path=...)`), the MTN
# sizes and the CSI statistics / frame of the data preprocessor.
fpn_levels = ['neck.0', 'neck.1', 'neck.2', 'neck.3']  # P2-P5

model = dict(
    type='TeacherStudentDistiller',
    teacher_input_key='img',
    student_input_key='csi',
    student=dict(
        type='CSIDetector',
        # the batch's preprocessor: camera frames as the teacher's, CSI
        # normalised with the dataset's statistics
        data_preprocessor=dict(
            type='PairedDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
        mtn=dict(type='ModalityTranslationNetwork', norm_cfg=dict(type='BN')),
        # the paper's 0.6 L_dp and 0.3 L_kp live in the detector's branch losses
        detector=dict(roi_head=dict(
            densepose_predictor=dict(loss_densepose=dict(loss_weight=0.6)),
            keypoint_head=dict(loss_keypoint=dict(loss_weight=0.3))))),
    distiller=dict(
        type='OutputMatchDistiller',
        distill_losses=dict(
            loss_transfer=dict(type='FeatureMSELoss', loss_weight=0.1, student=fpn_levels,
                               teacher=fpn_levels))),
    supervision='gt')
