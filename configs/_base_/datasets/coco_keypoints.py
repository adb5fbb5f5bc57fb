# COCO 2017 person keypoints:
#   data/coco/annotations/person_keypoints_{train,val}2017.json
#   data/coco/{train2017,val2017}/
# Boxes and keypoints only (no DensePose targets, so horizontal flip needs no
# UV symmetry table: flip_densepose=False swaps left/right keypoints only).
dataset_type = 'DensePoseCocoDataset'
data_root = 'data/coco/'
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFileWithId', backend_args=backend_args),
    dict(type='LoadDensePoseAnnotations', with_bbox=True, with_keypoints=True,
         with_densepose=False),
    dict(type='RandomChoiceResize', resize_type='DensePoseResize',
         scales=[(1333, s) for s in range(640, 801, 32)], keep_ratio=True),
    dict(type='DensePoseRandomFlip', prob=0.5, flip_densepose=False),
    dict(type='PackDensePoseInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFileWithId', backend_args=backend_args),
    dict(type='DensePoseResize', scale=(1333, 800), keep_ratio=True),
    dict(type='PackDensePoseInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val2017.json',
         metric='bbox', backend_args=backend_args),
    dict(type='CocoKeypointMetric',
         ann_file=data_root + 'annotations/person_keypoints_val2017.json')
]
test_evaluator = val_evaluator
