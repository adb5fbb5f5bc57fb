# Copyright (c) mmdensekd contributors. All rights reserved.
from .inference import build_test_pipeline, inference_model, init_model

__all__ = ['init_model', 'inference_model', 'build_test_pipeline']
