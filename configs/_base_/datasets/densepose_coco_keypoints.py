# DensePose-COCO (./densepose_coco.py) scored on boxes, DensePose and the 17
# COCO keypoints its person annotations carry (joint DensePose + keypoint
# models).
_base_ = ['./densepose_coco.py']

val_ann_file = 'data/densepose_coco/annotations/densepose_coco_2014_minival.json'
val_evaluator = [
    dict(type='CocoMetric', ann_file=val_ann_file, metric='bbox'),
    dict(type='DensePoseMetric', ann_file=val_ann_file,
         eval_data_dir='data/densepose_coco/eval_data/'),
    dict(type='CocoKeypointMetric', ann_file=val_ann_file)
]
test_evaluator = val_evaluator
