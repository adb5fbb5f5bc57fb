# detectron2 "1x": 90k iterations at batch 16 (8 GPUs x 2), lr 0.02, linear
# warm-up from 0.001 x lr over 1000 iterations, x0.1 at 60k and 80k. The loops,
# SGD and batch-size note of ./schedule_s1x.py.
_base_ = ['./schedule_s1x.py']

train_cfg = dict(max_iters=90000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=90000, by_epoch=False, milestones=[60000, 80000],
         gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
