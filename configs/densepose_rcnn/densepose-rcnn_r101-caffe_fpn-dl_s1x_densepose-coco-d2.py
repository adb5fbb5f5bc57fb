# detectron2 densepose_rcnn_R_101_FPN_DL_s1x
# (ResNet-101, DeepLabV3 DensePose head (ASPP, GN)) in detectron2's layout, for its
# model-zoo weights converted with
#   python tools/model_converters/detectron2_to_mmdensekd.py \
#       MODEL.pkl OUT.pth --config densepose_rcnn_R_101_FPN_DL_s1x
_base_ = [
    '../_base_/models/densepose-rcnn_r50-caffe_fpn_d2.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

model = dict(backbone=dict(depth=101), roi_head=dict(densepose_head=_base_.deeplab_head))
