# The tiny CPU joint DensePose + keypoint R-CNN
# (densepose-keypoint-rcnn_tiny_cpu_densepose-coco-tiny.py) with the
# refinement units of densepose-keypoint-rcnn_r50_fpn_refine-sum_s1x_densepose-coco.py
# and the paper's branch loss weights (DensePose 0.6, keypoints 0.3), each
# set once, in its branch's loss. Data:
# `python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco`.
_base_ = [
    '../_base_/models/densepose-keypoint-rcnn_r18-tiny_fpn.py',
    '../_base_/datasets/densepose_coco_tiny_keypoints.py',
    '../_base_/schedules/schedule_tiny.py',
    '../_base_/tiny_runtime.py',
]

model = dict(
    roi_head=dict(
        densepose_predictor=dict(loss_densepose=dict(loss_weight=0.6)),
        keypoint_head=dict(loss_keypoint=dict(loss_weight=0.3)),
        refine_head=dict(
            type='DensePoseKeypointRefineHead', dp_channels=64, kpt_channels=64, fuse='sum',
            num_convs=2)))
