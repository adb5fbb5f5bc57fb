# The full recipe's CSI student (CPU-sized; `python tools/misc/full_recipe.py`,
# which writes the world, trains the teacher and runs this config): the
# quickstart's distillation (the `_base_` below) in the world of people who
# move (sequence mode: walking, raising arms, bending, sitting down; train /
# val split by sequence) with the sensing
# that holds the most pose by the learned probe
# (`tools/analysis/probe_csi_pose.py`, README table): one transmitter and
# three receivers of three antennas around the area (Person-in-WiFi 3D), with
# the packets of 4 consecutive frame windows: (3, 600, 3) amplitude + phase
# (links, 4 windows x 5 packets x 30 subcarriers, rx antennas).
# The world:
#   python tools/dataset_converters/make_synthetic_wifi_densepose.py \
#     --out-dir work_dirs/full_recipe/data --sensing person-in-wifi-3d-4w \
#     --sequence-frames 10 --num-train 2000 --num-val 400 --num-test-layout 100 \
#     --max-people 1 --min-people 1 --stations 6 --heading-jitter 20 --img-size 256 192
# Another sensing: tools/misc/full_recipe.py --sensing NAME (its
# sensing_options() sets the layout of the MTN, the loader and the sanitiser).
_base_ = ['./kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py']

data_root = 'work_dirs/full_recipe/data/'
teacher_ckpt = 'work_dirs/full_recipe/teacher/iter_1600.pth'

# the sensing (mmdensekd/structures/csi_layout.py CSI_LAYOUTS) and its CSI steps
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
paired_test_pipeline = [
    _base_.load_image, *csi_steps, _base_.resize,
    dict(type='PackDensePoseInputs',
         meta_keys=('img_id', 'img_path', 'csi_path', 'ori_shape', 'img_shape', 'scale_factor'))
]

model = dict(
    teacher_ckpt=teacher_ckpt,
    student=dict(
        data_preprocessor=dict(csi_stats_file=data_root + 'meta.json'),
        mtn=dict(amp_shape=csi_shape, csi_layout=csi_layout),
        detector=dict(init_cfg=dict(checkpoint=teacher_ckpt))))

train_dataloader = dict(
    dataset=dict(data_root=data_root, csi_layout=csi_layout, pipeline=paired_train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, csi_layout=csi_layout, pipeline=paired_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/densepose_val.json',
         metric='bbox'),
    dict(type='CocoKeypointMetric', ann_file=data_root + 'annotations/densepose_val.json'),
    dict(type='DensePoseMetric', ann_file=data_root + 'annotations/densepose_val.json',
         eval_data_dir=data_root + 'eval_data'),
]
test_evaluator = val_evaluator

train_cfg = dict(max_iters=3000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=3000, by_epoch=False, milestones=[2400], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=3000))
