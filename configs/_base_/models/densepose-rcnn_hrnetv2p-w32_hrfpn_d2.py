# DensePose R-CNN HRNet-W32 + HRFPN laid out exactly as detectron2's
# densepose_rcnn_HRFPN_HRNet_w32_s1x (projects/DensePose/configs/HRNet), for
# weights trained with detectron2 and converted by
# tools/model_converters/detectron2_to_mmdensekd.py:
# - backbone: detectron2's PoseHigherResolutionNet = mmdet's HRNet layout
#   (MODEL.HRNET defaults: stages of 1 / 4 / 3 modules, 4 blocks per branch),
#   as D2HRNet, which crops upsampled branches like detectron2 so that images
#   need no padding (HRFPN's size_divisibility is 0: pad_size_divisor=1);
#   plain trained BatchNorm (not frozen) in every layer;
# - neck: detectron2's HRFPN (D2HRFPN: transposed-conv upsampling of each
#   branch, one strided conv per level), 256 channels, p1..p5 (strides 4-64),
#   which RPN, box head and DensePose decoder all read (RPN/ROI_HEADS
#   IN_FEATURES p1..p5);
# - the rest as densepose_rcnn_R_50_FPN_s1x: BGR input, mean
#   [103.53, 116.28, 123.675], std 1, plain ROIAlign (aligned=False, sampling
#   ratio 2), DensePose decoder (DECODER_ON) over p1..p5 (1/1/2/3/4 convs).
# No ImageNet initialisation (detectron2 starts from an HRNet classification
# checkpoint); the teacher's weights come from the converted checkpoint.
_base_ = ['./densepose-rcnn_r50_fpn.py']

hrnet_w32 = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
                num_channels=(64, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4),
                num_channels=(32, 64)),
    stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                num_channels=(32, 64, 128)),
    stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                num_channels=(32, 64, 128, 256)))
model = dict(
    data_preprocessor=dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False, pad_size_divisor=1),
    backbone=dict(
        _delete_=True,
        type='D2HRNet',
        extra=hrnet_w32,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        _delete_=True,
        type='D2HRFPN',
        in_channels=[32, 64, 128, 256],  # HRNET.STAGE4.NUM_CHANNELS
        out_channels=256,  # HRNET.HRFPN.OUT_CHANNELS
        num_outs=5),  # len(ROI_HEADS.IN_FEATURES)
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2, aligned=False),
                                featmap_strides=[4, 8, 16, 32, 64]),
        densepose_roi_extractor=dict(
            _delete_=True,
            type='DecoderRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=2, aligned=False),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32, 64],
            decoder=dict(type='DensePoseDecoder', in_channels=256, conv_channels=256,
                         out_channels=256, common_stride=4, norm_cfg=None))))

# SOLVER of the HRNet yamls: BASE_LR 0.03, CLIP_GRADIENTS by norm (CLIP_VALUE
# 1.0, NORM_TYPE 2.0); 130k iterations, steps 100k / 120k as schedule_s1x.
hrnet_optim_wrapper = dict(optimizer=dict(lr=0.03), clip_grad=dict(max_norm=1.0, norm_type=2))
