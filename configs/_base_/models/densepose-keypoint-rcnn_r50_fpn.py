# The R50-FPN DensePose R-CNN (./densepose-rcnn_r50_fpn.py) plus a Keypoint
# R-CNN branch: RoIAlign 14x14, 8 x conv3x3 512, deconv + bilinear x2 ->
# 56x56 heatmaps, CE over the grid averaged over visible keypoints.
# Keypoint-only models set the densepose_* entries to None.
_base_ = ['./densepose-rcnn_r50_fpn.py']

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
            coder=dict(type='RCNNKeypointCoder', heatmap_size=(56, 56)))))
# the keypoint loss is the head's default, KeypointCELoss with weight 1.0
# (children set keypoint_head.loss_keypoint.loss_weight)
