# The joint DensePose + keypoint R-CNN
# (densepose-keypoint-rcnn_r50_fpn_s1x_densepose-coco.py) with the paper's
# refinement units ("DensePose From WiFi"): both branches' features are fused
# (`fuse`: 'sum' or 'concat') and refined by 2 conv blocks per branch before
# each branch's predictor. The paper's branch loss weights (DensePose 0.6,
# keypoints 0.3) are set once, in each branch's loss.
_base_ = [
    '../_base_/models/densepose-keypoint-rcnn_r50_fpn.py',
    '../_base_/datasets/densepose_coco_keypoints.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

# As detectron2's s1x DensePose R-CNN (DECODER_ON=True), DensePose RoIs are
# pooled from the DensePose decoder's fused stride-4 map, so a converted s1x
# checkpoint fits (see densepose-keypoint-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py).
decoder_roi_extractor = dict(
    _delete_=True,
    type='DecoderRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=2, aligned=True),
    out_channels=256,
    featmap_strides=[4, 8, 16, 32],
    decoder=dict(type='DensePoseDecoder', in_channels=256, conv_channels=256, out_channels=256,
                 common_stride=4, norm_cfg=None))

model = dict(
    roi_head=dict(
        densepose_roi_extractor=decoder_roi_extractor,
        densepose_predictor=dict(loss_densepose=dict(loss_weight=0.6)),
        keypoint_head=dict(loss_keypoint=dict(loss_weight=0.3)),
        refine_head=dict(
            type='DensePoseKeypointRefineHead',
            dp_channels=512,
            kpt_channels=512,
            fuse='sum',
            num_convs=2)))
