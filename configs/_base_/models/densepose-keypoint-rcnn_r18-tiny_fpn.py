# The tiny CPU DensePose R-CNN (./densepose-rcnn_r18-tiny_fpn.py) at full
# ResNet-18 width plus a tiny Keypoint R-CNN branch (RoIAlign 14x14, two
# 64-channel convs, 56x56 heatmaps).
_base_ = ['./densepose-rcnn_r18-tiny_fpn.py']

model = dict(
    backbone=dict(base_channels=64),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(
        keypoint_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0, aligned=True),
            out_channels=64, featmap_strides=[4, 8, 16, 32]),
        keypoint_head=dict(
            type='mmpose.KeypointRCNNHead', in_channels=64, num_convs=2, conv_channels=64,
            num_keypoints=17, coder=dict(type='RCNNKeypointCoder', heatmap_size=(56, 56)),
            loss_keypoint=dict(type='KeypointCELoss', loss_weight=1.0))))
