# Copyright (c) mmdensekd contributors. All rights reserved.
from .distill_val_loop import DistillValLoop
from .exact_resume_loops import ExactResumeEpochBasedTrainLoop, ExactResumeIterBasedTrainLoop
from .exact_resume_runner import ExactResumeRunner, exact_resume_loop_cfg

__all__ = [
    'DistillValLoop', 'ExactResumeEpochBasedTrainLoop', 'ExactResumeIterBasedTrainLoop',
    'ExactResumeRunner', 'exact_resume_loop_cfg'
]
