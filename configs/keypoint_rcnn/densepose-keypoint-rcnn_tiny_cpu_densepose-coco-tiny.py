# A tiny CPU joint DensePose + keypoint R-CNN on the tiny real-image
# DensePose-COCO set built by
# `python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco`
# (4 COCO images with real keypoints, one person with DensePose). No
# pretrained weights, no flip (no UV symmetry file). The tiny model at full
# ResNet-18 width plus a tiny Keypoint R-CNN branch.
_base_ = [
    '../_base_/models/densepose-rcnn_r18-tiny_fpn.py',
    '../_base_/datasets/densepose_coco_tiny.py',
    '../_base_/schedules/schedule_tiny.py',
]

model = dict(
    backbone=dict(base_channels=64),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(
        keypoint_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0, aligned=True),
            out_channels=64, featmap_strides=[4, 8, 16, 32]),
        keypoint_head=dict(
            type='mmpose.KeypointRCNNHead', in_channels=64, num_convs=2, conv_channels=64,
            num_keypoints=17, codec=dict(type='RCNNKeypointCodec', heatmap_size=(56, 56)),
            loss_weight=1.0)))

val_evaluator = [
    *_base_.val_evaluator,
    dict(type='CocoKeypointMetric', ann_file=_base_.data_root + _base_.val_ann_file)
]
test_evaluator = val_evaluator
