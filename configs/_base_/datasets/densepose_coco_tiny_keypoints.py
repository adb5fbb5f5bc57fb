# The tiny DensePose-COCO set (./densepose_coco_tiny.py) scored on boxes,
# DensePose and keypoints (the tiny joint DensePose + keypoint models).
_base_ = ['./densepose_coco_tiny.py']

val_evaluator = [
    *_base_.val_evaluator,
    dict(type='CocoKeypointMetric', ann_file=_base_.data_root + _base_.val_ann_file)
]
test_evaluator = val_evaluator
