# Joint DensePose + keypoint R-CNN R50-FPN on DensePose-COCO (its person
# annotations carry the 17 COCO keypoints): the s1x DensePose recipe plus a
# Keypoint R-CNN branch (RoIAlign 14x14, 8 x conv 512, 56x56 heatmaps),
# scored on boxes, DensePose and keypoints.
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
model = dict(roi_head=dict(densepose_roi_extractor=decoder_roi_extractor))
