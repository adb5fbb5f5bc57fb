# Copyright (c) mmdensekd contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .densepose_vis_hook import DensePoseVisualizationHook
from .distill_weight_hook import DistillLossWeightHook
from .nonfinite_guard_hook import NonFiniteGuardHook, NonFiniteTrainingError
from .teacher_frozen_check_hook import TeacherFrozenCheckHook

__all__ = [
    'AtomicCheckpointHook', 'DensePoseVisualizationHook', 'DistillLossWeightHook',
    'NonFiniteGuardHook', 'NonFiniteTrainingError', 'TeacherFrozenCheckHook'
]
