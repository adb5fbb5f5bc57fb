# Copyright (c) mmdensekd contributors. All rights reserved.
"""Evaluate a COCO DensePose challenge-format results file offline.

Example::

    python tools/analysis/eval_densepose_results.py results.json \
        data/densepose_coco/annotations/densepose_minival2014.json \
        --eval-data data/densepose_eval_data

Without ``--eval-data`` (or ``$MMDENSEKD_EVAL_DATA``) only IOU is reported;
``tools/misc/download_densepose_eval_data.sh`` fetches the geodesic files.
When ``--modes`` names GPS or GPSm explicitly, missing geodesic files are an
error naming the directory and the files (exit code 2) instead of a fall-back
to IOU. The ground truth is validated first (as the dataset does): a bad
annotation is an error naming the file and ids, or with ``--skip-invalid`` a
counted, logged skip. A result that cannot be read (a corrupt ``uv_data``
PNG, a bad box) is an error naming the file and the result index (exit code
1, one line). Charts are read by this process and forked worker processes
sharing the work (``--workers``, by default the CPUs that the load leaves
free; ``--threads`` for threads instead); the numbers do not depend on them.
"""
import argparse
import json
from typing import Dict, List, Optional

from mmdensekd.evaluation.functional import (
    DENSEPOSE_MODES,
    evaluate_results_file,
    find_missing_eval_data,
    resolve_eval_data_dir,
)
from mmdensekd.evaluation.functional.densepose_eval_data import missing_eval_data_message


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='COCO DensePose evaluation of a results file')
    parser.add_argument('results', help='results JSON (COCO DensePose challenge format)')
    parser.add_argument('gt', help='DensePose-COCO annotation JSON')
    parser.add_argument('--eval-data', default=None,
                        help='directory with SMPL_subdiv.mat, SMPL_SUBDIV_TRANSFORM.mat, '
                        'Pdist_matrix.pkl (default: $MMDENSEKD_EVAL_DATA)')
    parser.add_argument('--modes', nargs='+', default=None, choices=list(DENSEPOSE_MODES),
                        help='evaluation modes (default: all; GPS/GPSm named here need '
                        'the geodesic files, else an error)')
    parser.add_argument('--gps-kappa', type=float, default=None,
                        help='one GPS normalisation for all points (0.255 = 2018 challenge); '
                        'default: per-part constants')
    parser.add_argument('--only-result-images', action='store_true',
                        help='evaluate only images that have results (default: all GT images)')
    parser.add_argument('--skip-invalid', action='store_true',
                        help='drop (count, log) invalid ground-truth annotations instead of '
                        'failing on the first one')
    parser.add_argument('--workers', type=int, default=None,
                        help='processes (this one included; Linux; elsewhere threads) decoding '
                        'charts and resizing masks (default: the CPUs that the load average '
                        'leaves free, at least 1, at most 8; 1 = this process only)')
    parser.add_argument('--threads', action='store_true',
                        help='use worker threads instead of forked processes')
    parser.add_argument('--out', default=None, help='write the numbers to this JSON file')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    explicit = args.modes is not None
    modes = args.modes if explicit else list(DENSEPOSE_MODES)
    geodesic = [m for m in modes if m in ('GPS', 'GPSm')]
    if explicit and geodesic:
        # asked for by name: no silent fall-back to IOU
        data_dir = resolve_eval_data_dir(args.eval_data)
        missing = find_missing_eval_data(data_dir)
        if missing:
            raise SystemExit(f'--modes {" ".join(geodesic)}: '
                             + missing_eval_data_message(data_dir, missing))
    stats = evaluate_results_file(args.results, args.gt, args.eval_data, modes=modes,
                                  img_ids_from_results=args.only_result_images,
                                  gps_kappa=args.gps_kappa, skip_invalid=args.skip_invalid,
                                  workers=args.workers, processes=not args.threads)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(stats, f, indent=2)
    return stats


if __name__ == '__main__':
    try:
        main()
    except (ValueError, KeyError, FileNotFoundError) as err:
        # one line naming the file and the item, not a traceback
        raise SystemExit(f'error: {err.args[0] if isinstance(err, KeyError) else err}') \
            from None
