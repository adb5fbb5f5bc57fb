# DensePose R-CNN R50-FPN laid out exactly as detectron2's
# densepose_rcnn_R_50_FPN_s1x, for its model-zoo weights converted with
#   python tools/model_converters/detectron2_to_mmdensekd.py model_final_162be9.pkl \
#       data/checkpoints/densepose-rcnn_r50_fpn_s1x_d2.pth --config THIS_CONFIG
# detectron2 differs from our recipe in: caffe-style ResNet (stride in the
# 1x1 conv), BGR input with mean [103.53, 116.28, 123.675] and std 1, and
# plain ROIAlign (aligned=False, sampling ratio 2) for boxes and DensePose.
# The DensePose decoder (DECODER_ON=True; its 16 tensors roi_heads.decoder.*)
# comes with the s1x base: DensePose RoIs are pooled from its stride-4 map.
# Use it for testing / as a distillation teacher; its weights come from the
# converted checkpoint (no ImageNet initialisation).
_base_ = ['./densepose-rcnn_r50_fpn_s1x_densepose-coco.py']

model = dict(
    data_preprocessor=dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False),
    backbone=dict(style='caffe', init_cfg=None),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2, aligned=False)),
        densepose_roi_extractor=dict(roi_layer=dict(sampling_ratio=2, aligned=False))))
