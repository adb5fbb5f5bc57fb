# DensePose R-CNN R50-FPN laid out exactly as detectron2's DensePose model
# zoo (densepose_rcnn_R_50_FPN_s1x and its variants), for weights converted
# by tools/model_converters/detectron2_to_mmdensekd.py: caffe-style ResNet
# (STRIDE_IN_1X1), BGR input with mean [103.53, 116.28, 123.675] and std 1,
# plain ROIAlign (aligned=False, sampling ratio 2) for boxes and DensePose,
# and the DensePose decoder (DECODER_ON=True: P2..P5, 256-channel convs
# without norm, 1x1 predictor) whose stride-4 map the DensePose RoIs are
# pooled from. No ImageNet initialisation: the weights come from the
# converted checkpoint. The leaves in configs/densepose_rcnn/*-d2.py pick
# the variant pieces defined below.
_base_ = ['./densepose-rcnn_r50_fpn.py']

model = dict(
    data_preprocessor=dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False),
    backbone=dict(style='caffe', init_cfg=None),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2, aligned=False)),
        densepose_roi_extractor=dict(
            _delete_=True,
            type='DecoderRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=2, aligned=False),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32],
            decoder=dict(type='DensePoseDecoder', in_channels=256, conv_channels=256,
                         out_channels=256, common_stride=4, norm_cfg=None))))

# --- variant pieces (detectron2 config keys in the comments) ---
# *_s1x_legacy: no decoder (DECODER_ON=False), 14x14 pooler -> 56x56 charts,
# 15 coarse channels, loss weights I 0.3, S 2.0, UV 0.1
legacy_roi_extractor = dict(
    _delete_=True,
    type='SingleRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=2, aligned=False),
    out_channels=256,
    featmap_strides=[4, 8, 16, 32])
legacy_predictor = dict(
    num_coarse_segm_channels=15,
    loss_densepose=dict(part_weight=0.3, point_regression_weight=0.1, segm_weight=2.0))
# *_DL_*: ROI_DENSEPOSE_HEAD.NAME DensePoseDeepLabHead (DEEPLAB.NORM GN,
# NONLOCAL_ON 0), 8 convs of 512
deeplab_head = dict(
    _delete_=True,
    type='DensePoseDeepLabHead',
    in_channels=256,
    num_convs=8,
    conv_channels=512,
    norm='GN',
    use_nonlocal=False)
# WC1 / WC2: UV_CONFIDENCE iid_iso / indep_aniso (EPSILON 0.01),
# POINT_REGRESSION_WEIGHTS 0.0005; the M variants add SEGM_CONFIDENCE
wc1 = dict(
    uv_confidence='iid_iso',
    loss_densepose=dict(uv_confidence='iid_iso', point_regression_weight=0.0005))
wc2 = dict(
    uv_confidence='indep_aniso',
    loss_densepose=dict(uv_confidence='indep_aniso', point_regression_weight=0.0005))
wc1m = dict(wc1, segm_confidence=True)
wc2m = dict(wc2, segm_confidence=True)
# SOLVER.CLIP_GRADIENTS of the confidence models: detectron2's default
# (by value, 1.0); the M variants by norm, 100
clip_grad_wc = dict(type='value', clip_value=1.0)
clip_grad_wcm = dict(max_norm=100.0, norm_type=2)
