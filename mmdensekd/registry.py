# Copyright (c) mmdensekd contributors. All rights reserved.
"""Registries that mmdensekd modules register into.

mmdensekd owns no registry of its own: every module extends the upstream
registry its configs already use.

* detection parts (detector, RoI head, DensePose heads and losses, MTN,
  distiller, datasets, transforms, metrics, hooks, loops, runner, visualiser)
  -> mmdet (``default_scope='mmdet'`` in our configs);
* keypoint heads and codecs -> mmpose, so they also work inside an mmpose
  ``TopdownPoseEstimator`` (refer to them as ``'mmpose.XXX'`` from an
  mmdet-scoped config).
"""
from mmdet.registry import (
    DATASETS,
    HOOKS,
    LOOPS,
    METRICS,
    MODELS,
    RUNNERS,
    TASK_UTILS,
    TRANSFORMS,
    VISUALIZERS,
)
from mmpose.registry import KEYPOINT_CODECS
from mmpose.registry import MODELS as POSE_MODELS

__all__ = [
    'DATASETS', 'HOOKS', 'LOOPS', 'METRICS', 'MODELS', 'RUNNERS', 'TASK_UTILS', 'TRANSFORMS',
    'VISUALIZERS',
    'KEYPOINT_CODECS', 'POSE_MODELS'
]
