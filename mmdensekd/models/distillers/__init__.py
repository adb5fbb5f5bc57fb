# Copyright (c) mmdensekd contributors. All rights reserved.
from .configurable_distiller import ConfigurableDistiller
from .frozen_model import build_frozen_model, check_module_frozen
from .paired_data_preprocessor import PairedDataPreprocessor
from .pseudo_labels import greedy_box_matching, merge_teacher_predictions
from .teacher_student_distiller import TeacherStudentDistiller

__all__ = [
    'ConfigurableDistiller', 'PairedDataPreprocessor', 'TeacherStudentDistiller',
    'build_frozen_model', 'check_module_frozen', 'greedy_box_matching',
    'merge_teacher_predictions'
]
