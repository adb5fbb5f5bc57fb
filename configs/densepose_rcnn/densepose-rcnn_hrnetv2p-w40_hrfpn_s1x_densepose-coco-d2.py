# detectron2 densepose_rcnn_HRFPN_HRNet_w40_s1x
# (HRNet-W40 + detectron2's HRFPN, p1..p5) in detectron2's layout, for weights
# trained with that detectron2 config (detectron2 publishes none) converted with
#   python tools/model_converters/detectron2_to_mmdensekd.py \
#       model_final.pth OUT.pth --config densepose_rcnn_HRFPN_HRNet_w40_s1x
_base_ = [
    '../_base_/models/densepose-rcnn_hrnetv2p-w32_hrfpn_d2.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

# MODEL.HRNET.STAGE{2,3,4}.NUM_CHANNELS of the w40 yaml
model = dict(
    backbone=dict(
        extra=dict(
            stage2=dict(num_channels=(40, 80)),
            stage3=dict(num_channels=(40, 80, 160)),
            stage4=dict(num_channels=(40, 80, 160, 320)))),
    neck=dict(in_channels=[40, 80, 160, 320]))
optim_wrapper = _base_.hrnet_optim_wrapper
