# Joint DensePose + keypoint R-CNN R50-FPN on DensePose-COCO (its person
# annotations carry the 17 COCO keypoints): the s1x DensePose recipe plus a
# Keypoint R-CNN branch (RoIAlign 14x14, 8 x conv 512, 56x56 heatmaps).
_base_ = [
    '../_base_/models/densepose-rcnn_r50_fpn.py',
    '../_base_/datasets/densepose_coco.py',
    '../_base_/schedules/schedule_s1x.py',
    '../_base_/default_runtime.py',
]

model = dict(
    roi_head=dict(
        keypoint_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0, aligned=True),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        keypoint_head=dict(
            type='mmpose.KeypointRCNNHead',
            in_channels=256,
            num_convs=8,
            conv_channels=512,
            num_keypoints=17,
            codec=dict(type='RCNNKeypointCodec', heatmap_size=(56, 56)),
            loss_weight=1.0)))

val_ann_file = 'data/densepose_coco/annotations/densepose_coco_2014_minival.json'
val_evaluator = [
    dict(type='CocoMetric', ann_file=val_ann_file, metric='bbox'),
    dict(type='DensePoseMetric', ann_file=val_ann_file,
         eval_data_dir='data/densepose_coco/eval_data/'),
    dict(type='CocoKeypointMetric', ann_file=val_ann_file)
]
test_evaluator = val_evaluator
