# DensePose-COCO 2014 (https://github.com/facebookresearch/DensePose):
#   data/densepose_coco/annotations/densepose_coco_2014_{train,valminusminival,minival}.json
#   data/densepose_coco/{train2014,val2014}/
# Horizontal flip needs UV_symmetry_transforms.mat next to the annotations
# (https://dl.fbaipublicfiles.com/densepose/data/UV_symmetry_transforms.mat).
dataset_type = 'DensePoseCocoDataset'
data_root = 'data/densepose_coco/'
uv_symmetry_file = data_root + 'UV_symmetry_transforms.mat'
# Directory with SMPL_subdiv.mat, SMPL_SUBDIV_TRANSFORM.mat and
# Pdist_matrix.pkl for GPS/GPSm (without it only IOU AP is reported).
densepose_eval_data = data_root + 'eval_data/'
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFileWithId', backend_args=backend_args),
    dict(type='LoadDensePoseAnnotations', with_bbox=True, with_keypoints=True,
         with_densepose=True),
    dict(type='RandomChoiceResize', resize_type='DensePoseResize',
         scales=[(1333, s) for s in range(640, 801, 32)], keep_ratio=True),
    dict(type='DensePoseRandomFlip', prob=0.5, uv_symmetry_file=uv_symmetry_file),
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
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/densepose_coco_2014_train.json',
                 data_prefix=dict(img='train2014/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline, backend_args=backend_args),
            dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/densepose_coco_2014_valminusminival.json',
                 data_prefix=dict(img='val2014/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline, backend_args=backend_args),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/densepose_coco_2014_minival.json',
        data_prefix=dict(img='val2014/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/densepose_coco_2014_minival.json',
         metric='bbox', backend_args=backend_args),
    dict(type='DensePoseMetric',
         ann_file=data_root + 'annotations/densepose_coco_2014_minival.json',
         eval_data_dir=densepose_eval_data)
]
test_evaluator = val_evaluator
