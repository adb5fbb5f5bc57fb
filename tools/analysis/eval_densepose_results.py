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
counted, logged skip.
"""
import argparse
import json
from typing import Dict, List, Optional

from mmengine.fileio import get_local_path

from mmdensekd.evaluation.functional import (
    DENSEPOSE_MODES,
    evaluate,
    find_missing_eval_data,
    load_densepose_eval_data,
    load_densepose_results,
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
    with get_local_path(args.gt) as local:
        with open(local) as f:
            gt = json.load(f)
    results = load_densepose_results(args.results)
    eval_data = load_densepose_eval_data(args.eval_data) if geodesic else None
    img_ids = sorted({r['image_id'] for r in results}) if args.only_result_images else None
    stats = evaluate(gt, results, modes=modes, eval_data=eval_data, img_ids=img_ids,
                     gps_kappa=args.gps_kappa, source=args.gt, skip_invalid=args.skip_invalid)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(stats, f, indent=2)
    return stats


if __name__ == '__main__':
    main()
