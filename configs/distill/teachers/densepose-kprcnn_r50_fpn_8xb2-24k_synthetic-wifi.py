# The GPU full-size image teacher of the quickstart's recipe (the CPU pair is
# `densepose-kprcnn_r18-tiny_fpn_1xb2-1600i_synthetic-wifi.py` and
# `../kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py`):
# the R50-FPN DensePose R-CNN with a Keypoint R-CNN branch
# (`_base_/models/densepose-keypoint-rcnn_r50_fpn.py`, ImageNet-pretrained
# backbone), trained on the 640x480 camera
# frames of the simulated camera + WiFi world with their exact ground truth.
# Its student:
# `../kd_densepose-kprcnn_img-to-wifi_mtn-r50_fpn_8xb2-48k_synthetic-wifi.py`;
# the commands of the pair are in the README (GPU recipe).
_base_ = [
    '../../_base_/models/densepose-keypoint-rcnn_r50_fpn.py',
    '../../_base_/datasets/synthetic_wifi_640x480.py',
    '../../_base_/schedules/schedule_24k_synthetic-wifi.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    # standing people: tall anchors (as the quickstart teacher)
    rpn_head=dict(anchor_generator=dict(ratios=[1.0, 2.0, 3.0])),
    # the base's keypoint branch, its loss stated
    roi_head=dict(keypoint_head=dict(
        loss_keypoint=dict(type='KeypointCELoss', loss_weight=1.0))),
    # at most 3 people per frame
    test_cfg=dict(rcnn=dict(max_per_img=20)))

default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=2))
randomness = dict(seed=0)
