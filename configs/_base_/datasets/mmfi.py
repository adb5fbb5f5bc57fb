# MM-Fi (Yang et al., 2023) paired WiFi CSI + camera frames in the layout of
# ../../distill/kd_densepose-rcnn_img-to-wifi_mtn-r50_fpn_8xb2-145k_mmfi.py:
#   data/mmfi/annotations/mmfi_pseudo_{train,val}.json  (teacher pseudo labels,
#       tools/misc/generate_pseudo_labels.py)
#   frames and CSI .mat files (CSIamp, CSIphase: 3 antennas x 114
#       subcarriers x 10 packets) at the paths the annotations give.
# The frames go to the teacher at its test scale; the CSI (phase sanitised)
# goes to the student's modality translation network. The WiFi distillation
# configs (../../distill/*mmfi*.py) extend it.
dataset_type = 'MMFiDensePoseDataset'
data_root = 'data/mmfi/'
csi_layout = 'mmfi'  # mmdensekd/structures/csi_layout.py
csi_shape = (3, 114, 10)  # the layout's shape: MM-Fi (antenna, subcarrier, packet)
# the teacher's test scale (W, H): frames are resized as the teacher was trained
# (this also puts img_shape / scale_factor into the metainfo, which rescaled
# predictions need); the MTN output is resized to the teacher's batch shape.
# CSI-only samples (no image in the pipeline) get img_shape = ori_shape =
# csi_image_shape and scale_factor (1, 1) from PairedDataPreprocessor.
img_scale = (1333, 800)

train_pipeline = [
    dict(type='LoadImageFromFileWithId'),
    dict(type='LoadDensePoseAnnotations', with_bbox=True, with_keypoints=True,
         with_densepose=True),
    dict(type='LoadCSIFromFile', layout=csi_layout),
    dict(type='CSIPhaseSanitize', layout=csi_layout),
    dict(type='PackCSI'),
    dict(type='DensePoseResize', scale=img_scale, keep_ratio=True),
    dict(type='PackDensePoseInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFileWithId'),
    dict(type='LoadCSIFromFile', layout=csi_layout),
    dict(type='CSIPhaseSanitize', layout=csi_layout),
    dict(type='PackCSI'),
    dict(type='DensePoseResize', scale=img_scale, keep_ratio=True),
    dict(type='PackDensePoseInputs',
         meta_keys=('img_id', 'img_path', 'csi_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/mmfi_pseudo_train.json',
                 data_prefix=dict(img='', csi=''),
                 filter_cfg=dict(filter_empty_gt=True, min_size=16), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/mmfi_pseudo_val.json', data_prefix=dict(img='', csi=''),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_ann_file = data_root + 'annotations/mmfi_pseudo_val.json'
val_evaluator = [
    dict(type='CocoMetric', ann_file=val_ann_file, metric='bbox'),
    dict(type='CocoKeypointMetric', ann_file=val_ann_file),
    dict(type='DensePoseMetric', ann_file=val_ann_file, eval_data_dir=data_root + 'eval_data/')
]
test_evaluator = val_evaluator
