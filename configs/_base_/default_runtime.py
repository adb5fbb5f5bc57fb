default_scope = 'mmdet'
custom_imports = dict(imports=['mmdensekd'], allow_failed_imports=False)
# mmengine's Runner, except that IterBasedTrainLoop / EpochBasedTrainLoop are
# built as their exact-resume subclasses: a run resumed with --resume logs the
# same losses as an uninterrupted one (mmdensekd.engine.runner)
runner_type = 'mmdet.ExactResumeRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Writes through a temporary file + rename (the 'atomic_local' storage
    # backend): a kill never leaves a corrupt latest checkpoint.
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # NaN/Inf (or |x| > 1e8) inputs, NaN/Inf loss terms, gradients or buffers
    # stop the run (action='skip' skips the step)
    nonfinite_guard=dict(type='NonFiniteGuardHook', action='stop'),
    # every 50th val / test prediction drawn beside its ground truth, into
    # work_dir/TIMESTAMP/densepose_vis and every vis backend
    visualization=dict(type='DensePoseVisualizationHook', interval=50))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
# TensorBoard (pip install -e '.[tensorboard]'): uncomment the next line.
# vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='DensePoseVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)

log_level = 'INFO'
load_from = None
resume = False
