# A tiny CPU Keypoint R-CNN on the 4 real COCO val2017 images and their real
# keypoints copied into tests/data/coco_tiny (train = val: an over-fit check,
# see tools/analysis/overfit_keypoints.py). No pretrained weights. It is
# keypoint-rcnn_r50_fpn_1x_coco.py scaled down (listed from the same bases:
# inheriting that leaf would make three levels of _base_).
_base_ = [
    '../_base_/models/densepose-keypoint-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_keypoints.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/tiny_runtime.py',
]

data_root = 'tests/data/coco_tiny/'
ann_file = 'test_coco.json'
img_scale = (512, 320)

model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=128),
        densepose_roi_extractor=None,
        densepose_head=None,
        densepose_predictor=None,
        keypoint_roi_extractor=dict(out_channels=64),
        keypoint_head=dict(in_channels=64, num_convs=2, conv_channels=64)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200), rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFileWithId'),
    dict(type='LoadDensePoseAnnotations', with_bbox=True, with_keypoints=True,
         with_densepose=False),
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
    num_workers=0, persistent_workers=False, batch_sampler=None,
    dataset=dict(data_root=data_root, ann_file=ann_file, data_prefix=dict(img=''),
                 filter_cfg=dict(min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file=ann_file, data_prefix=dict(img=''),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + ann_file, metric='bbox'),
    dict(type='CocoKeypointMetric', ann_file=data_root + ann_file)
]
test_evaluator = val_evaluator

train_cfg = dict(max_iters=200, val_interval=200)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', begin=0, end=200, by_epoch=False, milestones=[160], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10.0))
default_hooks = dict(checkpoint=dict(interval=200))
