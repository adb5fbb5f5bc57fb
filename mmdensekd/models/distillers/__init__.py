# Copyright (c) mmdensekd contributors. All rights reserved.
from .frozen_model import build_frozen_model, check_module_frozen, frozen_predict
from .output_match_distiller import OutputMatchDistiller
from .pseudo_labeler import PseudoLabeler
from .pseudo_labels import greedy_box_matching, merge_teacher_predictions
from .teacher_student_distiller import TeacherStudentDistiller

__all__ = [
    'OutputMatchDistiller', 'PseudoLabeler', 'TeacherStudentDistiller', 'build_frozen_model',
    'check_module_frozen', 'frozen_predict', 'greedy_box_matching', 'merge_teacher_predictions'
]
