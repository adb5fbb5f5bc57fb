# detectron2 densepose_rcnn_R_50_FPN_s1x_legacy: 14x14 pooler -> 56x56
# charts, 15 coarse channels (background + 14 parts), loss weights
# I 0.3, S 2.0, UV 0.1.
_base_ = [
    '../_base_/models/densepose-rcnn_r50_fpn.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

model = dict(
    roi_head=dict(
        densepose_roi_extractor=dict(roi_layer=dict(output_size=14)),
        densepose_predictor=dict(
            num_coarse_segm_channels=15,
            loss_densepose=dict(part_weight=0.3, point_regression_weight=0.1,
                                segm_weight=2.0))))
