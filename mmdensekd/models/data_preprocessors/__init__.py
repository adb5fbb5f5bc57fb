# Copyright (c) mmdensekd contributors. All rights reserved.
from .paired_data_preprocessor import PairedDataPreprocessor

__all__ = ['PairedDataPreprocessor']
