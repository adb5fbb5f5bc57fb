# The GPU full-size image teacher of the full recipe (the CPU recipe is
# `tools/misc/full_recipe.py` with
# `../kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-3000i_synthetic-wifi-seq.py`):
# the GPU teacher of the quickstart's world
# (`densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi.py`: R50-FPN DensePose +
# keypoint R-CNN, ImageNet-pretrained backbone, 640x480 frames, 24k
# iterations) trained instead on the world of people who move (sequence mode:
# one person per sequence walking, raising arms, bending, sitting down; train
# / val split by sequence) in data/synthetic_wifi_seq. The model and schedule
# below are that config's: it cannot be the `_base_` (its own `_base_` is
# two levels deep, the most tests/test_configs.py allows), and
# tests/test_configs.py checks that the two resolve to the same config but
# for the data root.
# Its student:
# `../kd_densepose-kprcnn_img-to-wifi_mtn-r50_fpn_8xb2-48k_synthetic-wifi-seq.py`.
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
    '../../_base_/models/densepose-keypoint-rcnn_r50_fpn.py',
    '../../_base_/datasets/synthetic_wifi_640x480.py',
    '../../_base_/schedules/schedule_24k_synthetic-wifi.py',
    '../../_base_/default_runtime.py',
]

# the sequence world (the dataset base's splits, metrics and frames)
data_root = 'data/synthetic_wifi_seq/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
val_evaluator = [
    dict(e, **{k: data_root + e[k][len(_base_.data_root):]
               for k in ('ann_file', 'eval_data_dir') if k in e})
    for e in _base_.val_evaluator
]
# as the base: the held-out room with val's metrics
test_evaluator = [dict(e, ann_file=data_root + 'annotations/densepose_heldout.json')
                  for e in val_evaluator]

# as densepose-kprcnn_r50_fpn_8xb2-24k_synthetic-wifi.py
model = dict(
    # standing people: tall anchors (as the quickstart teacher)
    rpn_head=dict(anchor_generator=dict(ratios=[1.0, 2.0, 3.0])),
    # the base's keypoint branch, its loss stated
    roi_head=dict(keypoint_head=dict(
        loss_keypoint=dict(type='KeypointCELoss', loss_weight=1.0))),
    test_cfg=dict(rcnn=dict(max_per_img=20)))

default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=2))
randomness = dict(seed=0)
