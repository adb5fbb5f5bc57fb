# DensePose R-CNN R101-FPN s1x: the same-modality distillation teacher
# (detectron2 model zoo densepose_rcnn_R_101_FPN_s1x; import its weights with
# the model converter in tools/model_converters/).
_base_ = ['../../densepose_rcnn/densepose-rcnn_r50_fpn_s1x_densepose-coco.py']

pretrained = 'data/pretrained/resnet101-63fe2227.pth'
model = dict(backbone=dict(depth=101, init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
