# The tiny CPU schedule: 100 iterations at batch 2, lr 0.02 with a 10-iteration
# warm-up and x0.1 at 80, gradient clipping; the loops and SGD of
# ./schedule_s1x.py. List it with ../tiny_runtime.py.
_base_ = ['./schedule_s1x.py']

train_cfg = dict(max_iters=100, val_interval=100)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', begin=0, end=100, by_epoch=False, milestones=[80], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10.0))
