# The CPU runtime of the tiny configs: the default runtime with gloo, logging
# every 10 iterations, one checkpoint (at iteration 100), no drawing, seed 0.
# It extends the default runtime: list it instead of that.
_base_ = ['./default_runtime.py']

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=100, max_keep_ckpts=1),
    visualization=dict(draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
