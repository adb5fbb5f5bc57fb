# A tiny CPU joint DensePose + keypoint R-CNN on the tiny real-image
# DensePose-COCO set built by
# `python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco`
# (4 COCO images with real keypoints, one person with DensePose). No
# pretrained weights, no flip (no UV symmetry file). Everything comes from
# the bases: the tiny model at full ResNet-18 width plus a tiny Keypoint
# R-CNN branch, scored on boxes, DensePose and keypoints.
_base_ = [
    '../_base_/models/densepose-keypoint-rcnn_r18-tiny_fpn.py',
    '../_base_/datasets/densepose_coco_tiny_keypoints.py',
    '../_base_/schedules/schedule_tiny.py',
    '../_base_/tiny_runtime.py',
]
