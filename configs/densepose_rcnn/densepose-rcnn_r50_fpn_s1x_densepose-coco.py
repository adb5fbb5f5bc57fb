# detectron2 densepose_rcnn_R_50_FPN_s1x: batch 16 (8 GPUs x 2), lr 0.01,
# 130k iterations, steps at 100k / 120k. Reference (V100): box AP 61.2,
# GPS AP 63.7, GPSm AP 65.3.
# As every non-legacy detectron2 DensePose config (DECODER_ON=True), RoIs are
# pooled from the DensePose decoder's fused stride-4 map (P2..P5, 256-channel
# convs without norm, 1x1 predictor to 256 channels), not from P2-P5 by size.
_base_ = [
    '../_base_/models/densepose-rcnn_r50_fpn.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

model = dict(
    roi_head=dict(
        densepose_roi_extractor=dict(
            _delete_=True,
            type='DecoderRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=2, aligned=True),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32],
            decoder=dict(
                type='DensePoseDecoder',
                in_channels=256,
                conv_channels=256,  # DECODER_CONV_DIMS
                out_channels=256,  # DECODER_NUM_CLASSES
                common_stride=4,  # DECODER_COMMON_STRIDE
                norm_cfg=None)),  # DECODER_NORM ''
        densepose_head=dict(num_convs=8, conv_channels=512),
        densepose_predictor=dict(
            num_coarse_segm_channels=2, up_scale=2,
            loss_densepose=dict(part_weight=1.0, point_regression_weight=0.01,
                                segm_weight=5.0))))
