# Copyright (c) mmdensekd contributors. All rights reserved.
"""Distributed launch helpers for machines without CUDA."""
import datetime
import os

import torch
import torch.distributed as torch_dist

__all__ = ['setup_cpu_distributed']


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Let a ``--launcher`` run work on CPU-only machines (gloo).

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and defaults to
    NCCL, and ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP;
    all three fail without CUDA. When ``launcher`` is not ``'none'`` and CUDA
    is unavailable this sets ``cfg.env_cfg.dist_cfg.backend = 'gloo'``, makes
    ``cfg.model_wrapper_cfg`` a CPU ``MMDistributedDataParallel`` (no
    ``device_ids``) unless the config sets one, and, for the ``pytorch``
    launcher, initialises the gloo process group from the torchrun
    environment (the runner then skips its own ``init_dist``).

    Args:
        cfg (Config): The full config, modified in place.
        launcher (str): ``none``, ``pytorch``, ``slurm`` or ``mpi``.

    Returns:
        bool: whether the CPU set-up was applied.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if key not in os.environ:
                raise RuntimeError(f'--launcher pytorch: environment variable {key} is not '
                                   'set; start the script with torchrun '
                                   '(tools/dist_train.sh / tools/dist_test.sh)')
        timeout = dist_cfg.get('timeout')
        kwargs = {}
        if timeout is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        torch_dist.init_process_group(backend='gloo', init_method='env://', **kwargs)
    return True
