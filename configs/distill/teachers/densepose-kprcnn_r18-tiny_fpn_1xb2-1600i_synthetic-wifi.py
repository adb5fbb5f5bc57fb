# The quickstart's image teacher: a small ResNet-18-FPN (half width, as
# `_base_/models/densepose-rcnn_r18-tiny_fpn.py`) DensePose + keypoint R-CNN
# trained from scratch on the camera frames of the simulated camera + WiFi
# world with their exact ground truth (`_base_/datasets/synthetic_wifi.py`).
# Run by `bash tools/misc/run_quickstart.sh`; CPU-sized. Only bases without
# bases of their own are listed (the keypoint branch of
# `_base_/models/densepose-keypoint-rcnn_r18-tiny_fpn.py` and the CPU runtime
# of `_base_/tiny_runtime.py` are set here) so that the student config can
# extend this one within two levels of `_base_`.
_base_ = [
    '../../_base_/models/densepose-rcnn_r18-tiny_fpn.py',
    '../../_base_/datasets/synthetic_wifi.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    # standing people: tall anchors
    rpn_head=dict(anchor_generator=dict(ratios=[1.0, 2.0, 3.0])),
    roi_head=dict(
        keypoint_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0, aligned=True),
            out_channels=64, featmap_strides=[4, 8, 16, 32]),
        keypoint_head=dict(
            type='mmpose.KeypointRCNNHead', in_channels=64, num_convs=2, conv_channels=64,
            num_keypoints=17, coder=dict(type='RCNNKeypointCoder', heatmap_size=(56, 56)),
            loss_keypoint=dict(type='KeypointCELoss', loss_weight=1.0))),
    test_cfg=dict(rcnn=dict(max_per_img=10)))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=1600, val_interval=100000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=1600, by_epoch=False, milestones=[1280], gamma=0.1)
]
# AdamW converges from scratch in a CPU-sized budget. Measured with people
# at any heading (quickstart --heading-jitter -1): box AP50 0.90 on val after
# 1000 iterations, against 0.48 for SGD at lr 0.02 after 500; more
# iterations mostly help keypoints (AP 0.10 after 1000, 0.23 after 2000).
# In the quickstart's world (people face the camera), 1600 iterations give
# box AP50 0.999 and keypoint AP 0.751.
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.0001),
                     clip_grad=dict(max_norm=10.0))
# the CPU runtime of tiny_runtime.py, logging every 20 iterations
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1600, max_keep_ckpts=1),
                     visualization=dict(draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_processor = dict(window_size=20)
randomness = dict(seed=0)
