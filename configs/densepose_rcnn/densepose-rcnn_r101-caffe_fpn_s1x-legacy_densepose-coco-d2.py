# detectron2 densepose_rcnn_R_101_FPN_s1x_legacy
# (ResNet-101, no decoder, 14x14 pooler, 56x56 charts, 15 coarse channels) in detectron2's layout,
# for its
# model-zoo weights converted with
#   python tools/model_converters/detectron2_to_mmdensekd.py \
#       MODEL.pkl OUT.pth --config densepose_rcnn_R_101_FPN_s1x_legacy
_base_ = [
    '../_base_/models/densepose-rcnn_r50-caffe_fpn_d2.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(depth=101),
    roi_head=dict(
        densepose_roi_extractor=_base_.legacy_roi_extractor,
        densepose_predictor=_base_.legacy_predictor))
