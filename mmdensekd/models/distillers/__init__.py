# Copyright (c) mmdensekd contributors. All rights reserved.
from .paired_data_preprocessor import PairedDataPreprocessor
from .teacher_student_distiller import TeacherStudentDistiller

__all__ = ['PairedDataPreprocessor', 'TeacherStudentDistiller']
