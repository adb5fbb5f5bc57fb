# The GPU full-size image teacher of the quickstart's recipe (the CPU pair is
# `densepose-kprcnn_r18-tiny_fpn_1xb2-1600i_synthetic-wifi.py` and
# `../kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py`):
# the R50-FPN DensePose R-CNN (`_base_/models/densepose-rcnn_r50_fpn.py`,
# ImageNet-pretrained backbone) plus the Keypoint R-CNN branch of
# `_base_/models/densepose-keypoint-rcnn_r50_fpn.py` (set here, not listed:
# only bases without bases of their own), trained on the 640x480 camera
# frames of the simulated camera + WiFi world with their exact ground truth.
# Its student:
# `../kd_densepose-kprcnn_img-to-wifi_mtn-r50_fpn_8xb2-48k_synthetic-wifi.py`;
# the commands of the pair are in the README (GPU recipe).
_base_ = [
    '../../_base_/models/densepose-rcnn_r50_fpn.py',
    '../../_base_/datasets/synthetic_wifi_640x480.py',
    '../../_base_/schedules/schedule_s1x.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    # standing people: tall anchors (as the quickstart teacher)
    rpn_head=dict(anchor_generator=dict(ratios=[1.0, 2.0, 3.0])),
    # the Keypoint R-CNN branch of _base_/models/densepose-keypoint-rcnn_r50_fpn.py
    roi_head=dict(
        keypoint_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0, aligned=True),
            out_channels=256, featmap_strides=[4, 8, 16, 32]),
        keypoint_head=dict(
            type='mmpose.KeypointRCNNHead', in_channels=256, num_convs=8, conv_channels=512,
            num_keypoints=17, coder=dict(type='RCNNKeypointCoder', heatmap_size=(56, 56)),
            loss_keypoint=dict(type='KeypointCELoss', loss_weight=1.0))),
    # at most 3 people per frame
    test_cfg=dict(rcnn=dict(max_per_img=20)))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=24000, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=24000, by_epoch=False, milestones=[16000, 21000],
         gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=35.0, norm_type=2))
default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=2))
randomness = dict(seed=0)
