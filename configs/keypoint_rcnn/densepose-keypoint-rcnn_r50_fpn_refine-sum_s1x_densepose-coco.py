# The joint DensePose + keypoint R-CNN with the paper's refinement units
# ("DensePose From WiFi"): both branches' features are fused (`fuse`: 'sum'
# or 'concat') and refined by 2 conv blocks per branch before each branch's
# predictor; branch losses weighted DensePose 0.6, keypoints 0.3.
_base_ = ['./densepose-keypoint-rcnn_r50_fpn_s1x_densepose-coco.py']

model = dict(
    roi_head=dict(
        refine_head=dict(
            type='DensePoseKeypointRefineHead',
            dp_channels=512,
            kpt_channels=512,
            fuse='sum',
            num_convs=2,
            dp_loss_weight=0.6,
            kpt_loss_weight=0.3)))
