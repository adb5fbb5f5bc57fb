# The tiny CPU joint DensePose + keypoint R-CNN with the refinement units of
# densepose-keypoint-rcnn_r50_fpn_refine-sum_s1x_densepose-coco.py (inherits
# the joint config directly to keep two levels of _base_). Data:
# `python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco`.
_base_ = ['./densepose-keypoint-rcnn_r50_fpn_s1x_densepose-coco.py']

data_root = 'work_dirs/tiny_densepose_coco/'
ann_file = 'annotations/densepose_tiny_train.json'
val_ann_file = 'annotations/densepose_tiny_val.json'
img_scale = (512, 320)

model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=128),
        densepose_roi_extractor=dict(out_channels=64, roi_layer=dict(output_size=14)),
        densepose_head=dict(in_channels=64, num_convs=2, conv_channels=64),
        densepose_predictor=dict(in_channels=64),
        keypoint_roi_extractor=dict(out_channels=64),
        keypoint_head=dict(in_channels=64, num_convs=2, conv_channels=64),
        refine_head=dict(
            type='DensePoseKeypointRefineHead',
            dp_channels=64,
            kpt_channels=64,
            fuse='sum',
            num_convs=2,
            dp_loss_weight=0.6,
            kpt_loss_weight=0.3)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200), rcnn=dict(max_per_img=20)))

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
    batch_sampler=None,
    dataset=dict(
        _delete_=True,
        type='DensePoseCocoDataset',
        data_root=data_root,
        ann_file=ann_file,
        data_prefix=dict(img='images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=dict(img='images/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + val_ann_file, metric='bbox'),
    dict(type='DensePoseMetric', ann_file=data_root + val_ann_file, eval_data_dir=None),
    dict(type='CocoKeypointMetric', ann_file=data_root + val_ann_file)
]
test_evaluator = val_evaluator

train_cfg = dict(max_iters=100, val_interval=100)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', begin=0, end=100, by_epoch=False, milestones=[80], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10.0))
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=100, max_keep_ckpts=1),
    visualization=dict(type='DetVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
