# Copyright (c) mmdensekd contributors. All rights reserved.
"""Compute CSI normalisation statistics and store them with the data.

A thin command line over :mod:`mmdensekd.datasets.csi_stats`. Statistics are
taken on exactly what the pipeline feeds the model: with a config, every
sample of ``<split>_dataloader.dataset`` goes through that dataset's own
pipeline up to (not including) its first packing transform, so a
``CSIPhaseSanitize`` in the pipeline is applied, with its arguments, and one
that is absent is not. With directories / files, ``LoadCSIFromFile`` and
(unless ``--no-sanitize``) ``CSIPhaseSanitize`` are built from the arguments.

``--write-meta`` stores them in the dataset's meta file (config mode:
``<data_root>/meta.json`` of the dataset; or the path given), where
``PairedDataPreprocessor(csi_stats_file=...)`` reads them; no statistics are
pasted into configs. Usage::

    # the pipeline of a config's dataset (train split by default), into its meta file
    python tools/analysis/compute_csi_stats.py configs/xxx.py --write-meta
    # a directory (searched recursively for *.mat) or a list of .mat files
    python tools/analysis/compute_csi_stats.py data/mmfi/csi --out stats.json
    python tools/analysis/compute_csi_stats.py a.mat b.mat --amp-key csi_serial \\
        --phase-key none --missing-phase zeros --reshape 150 3 3 \\
        --subcarrier-axis 1 --packet-axis 0 --view-shape 5 30 3 3

A zero standard deviation (e.g. an all-zero phase of amplitude-only data) is
reported as 1.0 so that normalisation stays valid; a warning says so.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.config import DictAction

from mmdensekd.datasets.csi_stats import (
    csi_stats_of_dataset,
    csi_stats_of_files,
    dataset_from_config,
    write_csi_stats,
)

#: The function of the package (kept under the tool's former name).
compute_csi_stats = csi_stats_of_dataset


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Compute CSI mean/std for a config')
    parser.add_argument('sources', nargs='+',
                        help='a dataset config (.py), or directories / .mat files')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'],
                        help='config mode: which <split>_dataloader.dataset to use')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config mode: key=value overrides (as in tools/train.py)')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='config mode: use the first N samples only')
    parser.add_argument('--amp-key', default='CSIamp')
    parser.add_argument('--phase-key', default='CSIphase',
                        help="variable name of the phase; 'none' for amplitude-only files")
    parser.add_argument('--missing-phase', default='error', choices=['error', 'zeros'])
    parser.add_argument('--expected-shape', type=int, nargs='+', default=None)
    parser.add_argument('--reshape', type=int, nargs='+', default=None)
    parser.add_argument('--no-sanitize', action='store_true',
                        help='file mode: skip CSIPhaseSanitize')
    parser.add_argument('--subcarrier-axis', type=int, default=1)
    parser.add_argument('--packet-axis', type=int, default=2,
                        help='packet (time) axis; negative value = none')
    parser.add_argument('--view-shape', type=int, nargs='+', default=None)
    parser.add_argument('--per-element', action='store_true',
                        help='also report per-element statistics (arrays of shape (2, *S))')
    parser.add_argument('--out', default=None, help='write the statistics to this json file')
    parser.add_argument('--write-meta', nargs='?', const='', default=None, metavar='META',
                        help="store them in the dataset's meta file (config mode default: "
                        '<data_root>/meta.json of the dataset)')
    return parser.parse_args(argv)


def list_mat_files(sources: Sequence[str]) -> List[str]:
    """Expand directories (recursively) into sorted ``.mat`` files."""
    files: List[str] = []
    for src in sources:
        if osp.isdir(src):
            found = sorted(
                osp.join(root, name) for root, _, names in os.walk(src) for name in names
                if name.lower().endswith('.mat'))
            if not found:
                raise ValueError(f'No .mat files under {src}')
            files.extend(found)
        elif osp.isfile(src):
            files.append(src)
        else:
            raise ValueError(f'CSI source {src} does not exist')
    return files


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    meta_file = args.write_meta or None
    if len(args.sources) == 1 and args.sources[0].endswith('.py'):
        dataset = dataset_from_config(args.sources[0], args.split, args.cfg_options)
        stats = csi_stats_of_dataset(dataset, per_element=args.per_element,
                                     max_samples=args.max_samples)
        stats['source'] = f'{args.split} split of {args.sources[0]}'
        if args.write_meta == '':
            meta_file = osp.join(dataset.data_root or '.', 'meta.json')
        print(f'pipeline up to packing: {" -> ".join(stats["transforms"])}')
    else:
        if args.write_meta == '':
            raise ValueError('--write-meta needs a meta file path with CSI files')
        phase_key = None if str(args.phase_key).lower() == 'none' else args.phase_key
        load = dict(amp_key=args.amp_key, phase_key=phase_key,
                    expected_shape=args.expected_shape, reshape=args.reshape,
                    missing_phase=args.missing_phase)
        sanitize = None if args.no_sanitize else dict(
            subcarrier_axis=args.subcarrier_axis,
            packet_axis=None if args.packet_axis < 0 else args.packet_axis,
            view_shape=args.view_shape)
        stats = csi_stats_of_files(list_mat_files(args.sources), load, sanitize,
                                   per_element=args.per_element)
    print(f'{stats["num_samples"]} CSI samples of shape {tuple(stats["shape"])}')
    for i, part in enumerate(('amplitude', 'phase')):
        print(f'{part}: mean {stats["csi_mean"][i]:.6f}, std {stats["csi_std"][i]:.6f}')
    print(f'csi_mean={[round(v, 6) for v in stats["csi_mean"]]}, '
          f'csi_std={[round(v, 6) for v in stats["csi_std"]]}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(stats, f, indent=2)
        print(f'statistics written to {args.out}')
    if meta_file:
        write_csi_stats(meta_file, stats)
        print(f'statistics stored in {meta_file} (csi_stats)')
    return stats


if __name__ == '__main__':
    main()
