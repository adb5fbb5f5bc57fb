# Keypoint R-CNN R50-FPN, detectron2's keypoint_rcnn_R_50_FPN_1x recipe:
# batch 16 (8 GPUs x 2), lr 0.02, 90k iterations, x0.1 at 60k and 80k,
# shorter side 640..800; keypoint branch: RoIAlign 14x14, 8 x conv 512,
# deconv + bilinear x2 -> 56x56, CE over the grid / visible keypoints.
# COCO 2017 person keypoints (see ../_base_/datasets/coco_keypoints.py).
_base_ = [
    '../_base_/models/densepose-keypoint-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_keypoints.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]

model = dict(
    roi_head=dict(
        densepose_roi_extractor=None,
        densepose_head=None,
        densepose_predictor=None),
    train_cfg=dict(rpn_proposal=dict(nms_pre=2000, max_per_img=1500)))
