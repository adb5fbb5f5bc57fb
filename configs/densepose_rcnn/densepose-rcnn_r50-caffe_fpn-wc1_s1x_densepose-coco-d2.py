# detectron2 densepose_rcnn_R_50_FPN_WC1_s1x
# (ResNet-50, iid_iso U/V confidence) in detectron2's layout, for its
# model-zoo weights converted with
#   python tools/model_converters/detectron2_to_mmdensekd.py \
#       MODEL.pkl OUT.pth --config densepose_rcnn_R_50_FPN_WC1_s1x
_base_ = [
    '../_base_/models/densepose-rcnn_r50-caffe_fpn_d2.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

model = dict(
    roi_head=dict(densepose_predictor=_base_.wc1))
optim_wrapper = dict(clip_grad=_base_.clip_grad_wc)
