# A tiny CPU DensePose R-CNN on the tiny real-image DensePose-COCO set built
# by `python tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco`
# (4 COCO images with real keypoints, one person with DensePose converted
# from a real DensePose R-CNN prediction). Used by the README main job and
# the end-to-end tests; no pretrained weights, no flip (no symmetry file).
_base_ = [
    '../_base_/models/densepose-rcnn_r18-tiny_fpn.py',
    '../_base_/datasets/densepose_coco_tiny.py',
    '../_base_/schedules/schedule_tiny.py',
    '../_base_/tiny_runtime.py',
]

# smaller images than the tiny set's default
img_scale = (480, 288)
train_pipeline = [
    dict(t, scale=img_scale) if t.type == 'DensePoseResize' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=img_scale) if t.type == 'DensePoseResize' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
