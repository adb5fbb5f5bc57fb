# Same-modality compression into a ResNet-18 FPN student (R101-FPN teacher).
# Its FPN keeps 256 channels, so the transfer loss needs no connector.
_base_ = ['./kd_densepose-rcnn_r101-r50_fpn_8xb2-s1x_densepose-coco.py']

pretrained = 'data/pretrained/resnet18-f37072fd.pth'
model = dict(
    student=dict(
        backbone=dict(depth=18, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        neck=dict(in_channels=[64, 128, 256, 512])))
