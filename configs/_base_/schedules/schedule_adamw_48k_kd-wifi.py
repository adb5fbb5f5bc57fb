# The GPU CSI students of the simulated world (8 GPUs x 2 images): AdamW as
# the quickstart (the MTN learns from scratch) at a lower rate than its 1e-3
# at batch 2 (the student body is initialised from the teacher); 48k
# iterations are about 38 epochs of 20000 frames, x0.1 at 5/6. As the CPU
# recipe, the teacher-initialised detector learns at a tenth of the MTN's rate.
_base_ = ['./schedule_s1x.py']

train_cfg = dict(type='IterBasedTrainLoop', max_iters=48000, val_interval=8000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=48000, by_epoch=False, milestones=[40000], gamma=0.1)
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.0001),
    clip_grad=dict(max_norm=10.0),
    paramwise_cfg=dict(custom_keys={'student.detector.': dict(lr_mult=0.1)}))
