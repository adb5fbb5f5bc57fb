# The quickstart's image teacher: a small ResNet-18-FPN (half width, as
# `_base_/models/densepose-rcnn_r18-tiny_fpn.py`) DensePose + keypoint R-CNN
# trained from scratch on the camera frames of the simulated camera + WiFi
# world with their exact ground truth (`_base_/datasets/synthetic_wifi.py`).
# Run by `bash tools/misc/run_quickstart.sh`; CPU-sized. The keypoint branch
# of `_base_/models/densepose-keypoint-rcnn_r18-tiny_fpn.py` is set here (one
# model base). Its student names it by path (`teacher_cfg`, `cfg_path`).
_base_ = [
    '../../_base_/models/densepose-rcnn_r18-tiny_fpn.py',
    '../../_base_/datasets/synthetic_wifi.py',
    '../../_base_/schedules/schedule_adamw_1600i.py',
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

# the CPU runtime of tiny_runtime.py, logging every 20 iterations
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1600, max_keep_ckpts=1),
                     visualization=dict(draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_processor = dict(window_size=20)
randomness = dict(seed=0)
