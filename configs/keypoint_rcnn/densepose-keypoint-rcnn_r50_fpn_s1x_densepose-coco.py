# Joint DensePose + keypoint R-CNN R50-FPN on DensePose-COCO (its person
# annotations carry the 17 COCO keypoints): the s1x DensePose recipe plus a
# Keypoint R-CNN branch (RoIAlign 14x14, 8 x conv 512, 56x56 heatmaps),
# scored on boxes, DensePose and keypoints. Everything comes from the bases.
_base_ = [
    '../_base_/models/densepose-keypoint-rcnn_r50_fpn.py',
    '../_base_/datasets/densepose_coco_keypoints.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]
