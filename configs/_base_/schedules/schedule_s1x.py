# detectron2 DensePose "s1x": 130k iterations at batch 16 (8 GPUs x 2),
# lr 0.01, linear warm-up from 0.1 x lr over 1000 iterations, x0.1 at 100k
# and 120k.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=130000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=130000, by_epoch=False, milestones=[100000, 120000],
         gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))

# The learning rate above is for 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
