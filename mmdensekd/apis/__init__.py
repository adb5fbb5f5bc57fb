# Copyright (c) mmdensekd contributors. All rights reserved.
from .inference import build_test_pipeline, inference_model, inference_on_boxes, init_model
from .stages import StageRunner, input_digest, run_command
from .student import extract_student_state_dict, is_distill_config, student_config

__all__ = [
    'init_model', 'inference_model', 'inference_on_boxes', 'build_test_pipeline',
    'extract_student_state_dict', 'is_distill_config', 'student_config', 'StageRunner',
    'input_digest', 'run_command'
]
