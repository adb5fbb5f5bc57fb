# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_eval import DENSEPOSE_MODES, evaluate, format_summary, pairwise_gps
from .densepose_eval_data import (
    EVAL_DATA_ENV,
    EVAL_DATA_FILES,
    EVAL_DATA_URL,
    GPS_KAPPA_2018,
    DensePoseEvalData,
    find_missing_eval_data,
    gps_normalisation,
    load_densepose_eval_data,
    resolve_eval_data_dir,
)
from .densepose_matching import STAT_NAMES, accumulate, match_image, match_images, summarize
from .densepose_results import (
    dump_densepose_results,
    evaluate_results_file,
    load_densepose_results,
    to_challenge_format,
)

__all__ = [
    'DENSEPOSE_MODES', 'evaluate', 'format_summary', 'pairwise_gps', 'EVAL_DATA_ENV',
    'EVAL_DATA_FILES',
    'EVAL_DATA_URL', 'GPS_KAPPA_2018', 'DensePoseEvalData', 'find_missing_eval_data',
    'gps_normalisation', 'load_densepose_eval_data', 'resolve_eval_data_dir', 'STAT_NAMES',
    'accumulate', 'match_image', 'summarize', 'dump_densepose_results',
    'load_densepose_results', 'to_challenge_format', 'evaluate_results_file', 'match_images'
]
