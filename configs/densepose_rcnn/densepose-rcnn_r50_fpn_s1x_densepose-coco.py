# detectron2 densepose_rcnn_R_50_FPN_s1x: batch 16 (8 GPUs x 2), lr 0.01,
# 130k iterations, steps at 100k / 120k. Reference (V100): box AP 61.2,
# GPS AP 63.7, GPSm AP 65.3.
_base_ = [
    '../_base_/models/densepose-rcnn_r50_fpn.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

model = dict(
    roi_head=dict(
        densepose_roi_extractor=dict(roi_layer=dict(output_size=28)),
        densepose_head=dict(num_convs=8, conv_channels=512),
        densepose_predictor=dict(num_coarse_segm_channels=2, up_scale=2),
        densepose_loss=dict(part_weight=1.0, point_regression_weight=0.01, segm_weight=5.0)))
