# Copyright (c) mmdensekd contributors. All rights reserved.
from .modality_translation_network import ModalityTranslationNetwork

__all__ = ['ModalityTranslationNetwork']
