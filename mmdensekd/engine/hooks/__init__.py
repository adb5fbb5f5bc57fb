# Copyright (c) mmdensekd contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .distill_weight_hook import DistillLossWeightHook
from .teacher_frozen_check_hook import TeacherFrozenCheckHook

__all__ = ['AtomicCheckpointHook', 'DistillLossWeightHook', 'TeacherFrozenCheckHook']
