# The tiny real-image DensePose-COCO set built by
#   python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco
# (4 COCO images with real keypoints, one person with DensePose converted from
# a real DensePose R-CNN prediction). No flip (no UV symmetry file), no worker
# processes, no GPS/GPSm geodesic data (DensePose IOU AP only).
dataset_type = 'DensePoseCocoDataset'
data_root = 'work_dirs/tiny_densepose_coco/'
ann_file = 'annotations/densepose_tiny_train.json'
val_ann_file = 'annotations/densepose_tiny_val.json'
img_scale = (512, 320)
backend_args = None

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
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        data_prefix=dict(img='images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + val_ann_file, metric='bbox'),
    dict(type='DensePoseMetric', ann_file=data_root + val_ann_file, eval_data_dir=None)
]
test_evaluator = val_evaluator
