# detectron2 densepose_rcnn_HRFPN_HRNet_w32_s1x
# (HRNet-W32 + detectron2's HRFPN, p1..p5) in detectron2's layout, for weights
# trained with that detectron2 config (detectron2 publishes none) converted with
#   python tools/model_converters/detectron2_to_mmdensekd.py \
#       model_final.pth OUT.pth --config densepose_rcnn_HRFPN_HRNet_w32_s1x
_base_ = [
    '../_base_/models/densepose-rcnn_hrnetv2p-w32_hrfpn_d2.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = _base_.hrnet_optim_wrapper
