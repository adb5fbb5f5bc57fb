# Tiny CPU top-down config: mmdensekd's KeypointRCNNHead as the head of an
# mmpose TopdownPoseEstimator, trained against an mmpose codec (MSRAHeatmap).
# The head upsamples 4x (deconv x2, bilinear x2): ResNet-18 stage 3 (stride
# 16) on a 48x64 crop gives 3x4 features -> 12x16 heatmaps = codec size.
default_scope = 'mmpose'
custom_imports = dict(imports=['mmdensekd'], allow_failed_imports=False)

# shared codec, used by the head's decoder and by the training targets
codec = dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=2)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
                  out_indices=(2, )),
    head=dict(type='KeypointRCNNHead', in_channels=256, num_convs=2, conv_channels=32,
              num_keypoints=17, topdown_loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# data: the real COCO images and keypoints copied into tests/data/coco_tiny
dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'tests/data/coco_tiny/'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='test_coco.json', data_prefix=dict(img=''), pipeline=train_pipeline))
# validation: the same images, in order, without augmentation
val_dataloader = dict(
    train_dataloader, drop_last=False, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(train_dataloader['dataset'], test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator

# schedule / runtime
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=2)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
# mmengine's own visualizer and log processor: mmpose's registries for them
# import mmpose.visualization, which needs torchvision
visualizer = dict(
    type='Visualizer', _scope_='mmengine', vis_backends=[dict(type='LocalVisBackend')])
log_processor = dict(type='LogProcessor', _scope_='mmengine', window_size=1, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
