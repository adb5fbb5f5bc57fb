# The GPU full-size CSI student of the full recipe (the CPU-sized config is
# `kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-3000i_synthetic-wifi-seq.py`,
# run by `tools/misc/full_recipe.py`): the GPU student of the quickstart's
# world (`kd_densepose-kprcnn_img-to-wifi_mtn-r50_fpn_8xb2-48k_synthetic-wifi.py`:
# the R50-FPN teacher's architecture behind the paper-size MTN, initialised
# from the teacher, the paper's losses on the teacher's pseudo labels, 48k
# iterations) in the world of people who move (data/synthetic_wifi_seq,
# sequence mode, train / val split by sequence), with its frozen teacher
# `teachers/densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi-seq.py` and the
# full recipe's sensing: one transmitter and three receivers of three
# antennas (Person-in-WiFi 3D) with the packets of 4 consecutive frame
# windows, (3, 600, 3) amplitude + phase (links, 4 windows x 5 packets x 30
# subcarriers, rx antennas), set as the CPU config sets it. The rest below is
# the quickstart-world GPU student's: it cannot be the `_base_` (its own
# `_base_` is two levels deep, the most tests/test_configs.py allows), and
# tests/test_configs.py checks that the two resolve to the same config but
# for the world, the teacher and the sensing.
# The GPU recipe of the pair (8 GPUs; not run yet), from the repository root:
#   T=configs/distill/teachers/densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi-seq.py
#   S=configs/distill/kd_densepose-kprcnn_img-to-wifi_mtn-r50_fpn_8xb2-48k_synthetic-wifi-seq.py
#   T_CKPT=work_dirs/$(basename $T .py)/iter_24000.pth   # tools/train.py's work dirs
#   S_CKPT=work_dirs/$(basename $S .py)/iter_48000.pth
#   C=work_dirs/$(basename $S .py)_control                # the control's work dir
#   D=data/synthetic_wifi_seq                             # the configs' data_root
#   # 0. ImageNet weights of the backbone (torchvision's ResNet-50 v1), once, with internet
#   mkdir -p data/pretrained
#   wget -P data/pretrained https://download.pytorch.org/models/resnet50-0676ba61.pth
#   # 1. the world: 20000 train / 1000 val frames (sequences of 10 frames in 8
#   #    training rooms) and 1000 frames of an unseen room (test); one person per
#   #    sequence at 6 standing spots per room, facing the camera (heading std 20
#   #    degrees); 640x480 frames; Person-in-WiFi 3D CSI of 4 frame windows
#   #    (3, 600, 3); the CSI statistics of the training split go into $D/meta.json
#   python tools/dataset_converters/make_synthetic_wifi_densepose.py --out-dir $D \
#       --sensing person-in-wifi-3d-4w --sequence-frames 10 \
#       --num-train 20000 --num-val 1000 --num-test-layout 1000 --img-size 640 480 \
#       --min-people 1 --max-people 1 --layouts 9 --stations 6 --heading-jitter 20 \
#       --seed 0 --workers 16
#   # 2. the teacher (writes $T_CKPT)
#   bash tools/dist_train.sh $T 8
#   # 3. its pseudo labels on the training frames (score >= 0.8, as the full recipe)
#   python tools/misc/generate_pseudo_labels.py $T $T_CKPT --img-dir $D \
#       --ann-file $D/annotations/densepose_train.json \
#       --out $D/annotations/pseudo_train.json --score-thr 0.8 --device cuda \
#       --cfg-options model.test_cfg.rcnn.score_thr=0.8
#   # 4. CSI statistics: step 1 stored them ($D/meta.json, key csi_stats); only
#   #    to recompute them through the student's pipeline:
#   # python tools/analysis/compute_csi_stats.py $S --write-meta \
#   #     --cfg-options train_dataloader.dataset.ann_file=annotations/densepose_train.json
#   # 5. the WiFi student (teacher and the student's detector start from $T_CKPT)
#   bash tools/dist_train.sh $S 8
#   # 5b. the control: the student on CSI permuted across frames
#   python -c "import sys; sys.path.insert(0, 'tools/misc'); import quickstart as q; \
#       q.shuffle_csi('$D/annotations/pseudo_train.json', \
#                     '$D/annotations/pseudo_train_csi-shuffled.json', 0)"
#   bash tools/dist_train.sh $S 8 --work-dir $C \
#       --cfg-options train_dataloader.dataset.ann_file=annotations/pseudo_train_csi-shuffled.json
#   # 6. teacher, student and control on the unseen room (the configs' test split)
#   bash tools/dist_test.sh $T $T_CKPT 8
#   bash tools/dist_test.sh $S $S_CKPT 8
#   bash tools/dist_test.sh $S $C/iter_48000.pth 8 --work-dir $C
#   # 7. the same on val (training rooms, sequences unseen in training)
#   VAL="test_dataloader.dataset.ann_file=annotations/densepose_val.json \
#       test_evaluator.0.ann_file=$D/annotations/densepose_val.json \
#       test_evaluator.1.ann_file=$D/annotations/densepose_val.json \
#       test_evaluator.2.ann_file=$D/annotations/densepose_val.json"
#   bash tools/dist_test.sh $T $T_CKPT 8 --cfg-options $VAL
#   bash tools/dist_test.sh $S $S_CKPT 8 --cfg-options $VAL
#   bash tools/dist_test.sh $S $C/iter_48000.pth 8 --work-dir $C --cfg-options $VAL
_base_ = [
    '../_base_/models/kd_img-to-wifi_mtn.py',
    '../_base_/datasets/synthetic_wifi_640x480.py',
    '../_base_/schedules/schedule_adamw_48k_kd-wifi.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/synthetic_wifi_seq/'
teacher_cfg = 'configs/distill/teachers/densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi-seq.py'
teacher_ckpt = 'work_dirs/densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi-seq/iter_24000.pth'
frame_size = (480, 640)  # the generated frames (H, W); the MTN output stands for them

# the sensing (mmdensekd/structures/csi_layout.py CSI_LAYOUTS) and its CSI
# steps, as the CPU config; the image steps are the 640x480 base's
csi_layout = 'person-in-wifi-3d-4w'
csi_shape = (3, 600, 3)
csi_sanitize = dict(view_shape=(3, 20, 30, 3), subcarrier_axis=2, packet_axis=1)
csi_steps = [
    dict(type='LoadCSIFromFile', expected_shape=csi_shape),
    dict(type='CSIPhaseSanitize', **csi_sanitize),
    dict(type='PackCSI')
]
paired_train_pipeline = [
    _base_.load_image, _base_.load_annotations, *csi_steps, _base_.resize, _base_.pack_train
]
paired_test_pipeline = [_base_.load_image, *csi_steps, _base_.resize, _base_.pack_paired_test]

model = dict(
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    student=dict(
        # amplitude / sanitised-phase statistics of the training split, in the
        # dataset's meta file (the generator writes them)
        data_preprocessor=dict(csi_stats_file=data_root + 'meta.json',
                               csi_image_shape=frame_size),
        # the paper's MTN sizes (encoders 512-256, fusion 512 -> 24x24, convs
        # 64 / 128, deconvolutions) up to the frame size, on this sensing
        mtn=dict(amp_shape=csi_shape, csi_layout=csi_layout, out_size=frame_size,
                 norm_cfg=dict(type='SyncBN')),
        detector=dict(
            cfg_path=teacher_cfg,
            # the MTN output is not an image: every stage trains, with its
            # BatchNorm synchronised over the 8 GPUs (plain BN in one process;
            # a multi-process run on CPUs (gloo) needs `norm_cfg.type=BN` here
            # and in the MTN); the whole detector is the teacher's
            backbone=dict(frozen_stages=-1, norm_cfg=dict(type='SyncBN', requires_grad=True),
                          norm_eval=False, init_cfg=None),
            init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt))))

paired_data = dict(type='PairedWiFiDensePoseDataset', data_root=data_root,
                   data_prefix=dict(img='', csi=''), csi_layout=csi_layout)
train_dataloader = dict(
    dataset=dict(paired_data, ann_file='annotations/pseudo_train.json',
                 pipeline=paired_train_pipeline))
val_dataloader = dict(dataset=dict(paired_data, pipeline=paired_test_pipeline))
test_dataloader = dict(dataset=dict(paired_data, pipeline=paired_test_pipeline))
# the base's metrics with their files under this data_root
val_evaluator = [
    dict(e, **{k: data_root + e[k][len(_base_.data_root):]
               for k in ('ann_file', 'eval_data_dir') if k in e})
    for e in _base_.val_evaluator
]
# as the base: the held-out room with val's metrics
test_evaluator = [dict(e, ann_file=data_root + 'annotations/densepose_heldout.json')
                  for e in val_evaluator]

default_hooks = dict(checkpoint=dict(interval=8000, max_keep_ckpts=2))
custom_hooks = [dict(type='TeacherFrozenCheckHook', interval=1000)]
randomness = dict(seed=0)
