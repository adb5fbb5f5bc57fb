# DensePose R-CNN R101-FPN s1x: the same-modality distillation teacher,
# trained with this config. detectron2's model-zoo densepose_rcnn_R_101_FPN_s1x
# can be used instead after tools/model_converters/detectron2_to_mmdensekd.py,
# with the detectron2 layout of densepose-rcnn_r50-caffe_fpn_s1x_densepose-coco-d2.py
# (caffe style, BGR, std 1, aligned=False); the distiller normalises the image
# once for both models, so the student must then use the same mean/std.
_base_ = ['../../densepose_rcnn/densepose-rcnn_r50_fpn_s1x_densepose-coco.py']

pretrained = 'data/pretrained/resnet101-63fe2227.pth'
model = dict(backbone=dict(depth=101, init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
