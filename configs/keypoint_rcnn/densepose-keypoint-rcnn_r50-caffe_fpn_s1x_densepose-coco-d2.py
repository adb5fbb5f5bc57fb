# The joint DensePose + keypoint R-CNN R50-FPN as one teacher made of two
# detectron2 model-zoo checkpoints: densepose_rcnn_R_50_FPN_s1x (backbone,
# RPN, boxes, DensePose decoder and head) plus the keypoint head of
# keypoint_rcnn_R_50_FPN_1x, converted into one checkpoint with
#   python tools/model_converters/detectron2_to_mmdensekd.py \
#       model_final_162be9.pkl joint_d2.pth --keypoint-src model_final_04e291.pkl \
#       --config THIS_CONFIG
# Layout: detectron2's (caffe-style ResNet, BGR, mean [103.53, 116.28,
# 123.675], std 1; ROIAlign aligned=False, sampling 2 for boxes and DensePose;
# ROIAlignV2 (aligned=True, sampling 0) 14x14 for keypoints as Keypoint R-CNN).
# The keypoint head runs on the DensePose model's features, not those it was
# trained on; for the two models' exact outputs use them as two teachers
# (tools/misc/generate_pseudo_labels.py ... --teacher KPT_CONFIG KPT_CKPT).
_base_ = [
    '../_base_/models/densepose-keypoint-rcnn_r50_fpn.py',
    '../_base_/datasets/densepose_coco_keypoints.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

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
