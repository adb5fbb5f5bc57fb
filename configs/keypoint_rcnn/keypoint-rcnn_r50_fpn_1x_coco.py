# Keypoint R-CNN R50-FPN, detectron2's keypoint_rcnn_R_50_FPN_1x recipe:
# batch 16 (8 GPUs x 2), lr 0.02, 90k iterations, x0.1 at 60k and 80k,
# shorter side 640..800; keypoint branch: RoIAlign 14x14, 8 x conv 512,
# deconv + bilinear x2 -> 56x56, CE over the grid / visible keypoints.
# COCO 2017 person keypoints: data/coco/annotations/person_keypoints_*2017.json.
# Horizontal flip swaps left/right keypoints; no DensePose targets are loaded,
# so no UV symmetry table is needed (flip_densepose=False).
_base_ = [
    '../_base_/models/densepose-rcnn_r50_fpn.py',
    '../_base_/default_runtime.py',
]

model = dict(
    roi_head=dict(
        densepose_roi_extractor=None,
        densepose_head=None,
        densepose_predictor=None,
        densepose_loss=None,
        keypoint_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0, aligned=True),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        keypoint_head=dict(
            type='mmpose.KeypointRCNNHead',
            in_channels=256,
            num_convs=8,
            conv_channels=512,
            num_keypoints=17,
            codec=dict(type='RCNNKeypointCodec', heatmap_size=(56, 56)),
            loss_weight=1.0)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=2000, max_per_img=1500)))

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

# schedule "1x": 90k iterations at batch 16
train_cfg = dict(type='IterBasedTrainLoop', max_iters=90000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=90000, by_epoch=False, milestones=[60000, 80000],
         gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
