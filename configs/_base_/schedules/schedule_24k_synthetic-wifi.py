# The GPU image teachers of the simulated world (8 GPUs x 2 images): 24k
# iterations of SGD at lr 0.02, linear warm-up from 0.001 x lr over 1000
# iterations, x0.1 at 16k and 21k, gradients clipped at norm 35.
_base_ = ['./schedule_s1x.py']

train_cfg = dict(type='IterBasedTrainLoop', max_iters=24000, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=24000, by_epoch=False, milestones=[16000, 21000],
         gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=35.0, norm_type=2))
