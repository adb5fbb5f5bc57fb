# The tiny CPU joint DensePose + keypoint R-CNN with the refinement units of
# densepose-keypoint-rcnn_r50_fpn_refine-sum_s1x_densepose-coco.py. Data:
# `python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco`.
# It lists the same bases as densepose-keypoint-rcnn_tiny_cpu_densepose-coco-tiny.py
# (inheriting that leaf would make three levels of _base_), so the keypoint
# branch is stated here again.
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
            loss_weight=1.0),
        refine_head=dict(
            type='DensePoseKeypointRefineHead', dp_channels=64, kpt_channels=64, fuse='sum',
            num_convs=2, dp_loss_weight=0.6, kpt_loss_weight=0.3)))

val_evaluator = [
    *_base_.val_evaluator,
    dict(type='CocoKeypointMetric', ann_file=_base_.data_root + _base_.val_ann_file)
]
test_evaluator = val_evaluator
