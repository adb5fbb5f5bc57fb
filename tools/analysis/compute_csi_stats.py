# Copyright (c) mmdensekd contributors. All rights reserved.
"""Compute CSI normalisation statistics for ``PairedDataPreprocessor``.

Statistics are taken on exactly what the pipeline feeds the model: with a
config, every sample of ``<split>_dataloader.dataset`` goes through that
dataset's own pipeline up to (not including) its first packing transform
(``PackCSI`` / ``PackDensePoseInputs`` / any ``Pack*``), so a
``CSIPhaseSanitize`` in the pipeline is applied, with its arguments, and one
that is absent is not. With directories / files, ``LoadCSIFromFile`` and
(unless ``--no-sanitize``) ``CSIPhaseSanitize`` are built from the arguments.
The mean and (population) standard deviation of the amplitude and of the
phase over all elements of all samples are printed, ready to paste into a
config::

    data_preprocessor = dict(type='PairedDataPreprocessor', ...,
                             csi_mean=[...], csi_std=[...])

Usage::

    # the pipeline of a config's dataset (train split by default)
    python tools/analysis/compute_csi_stats.py configs/xxx.py --split train
    # a directory (searched recursively for *.mat) or a list of .mat files
    python tools/analysis/compute_csi_stats.py data/mmfi/csi --out stats.json
    python tools/analysis/compute_csi_stats.py a.mat b.mat --amp-key csi_serial \
        --phase-key none --missing-phase zeros --reshape 150 3 3 \
        --subcarrier-axis 1 --packet-axis 0 --view-shape 5 30 3 3

A zero standard deviation (e.g. an all-zero phase of amplitude-only data) is
reported as 1.0 so that the config stays valid; a warning says so.

From Python (e.g. a quickstart computing its own statistics)::

    stats = compute_csi_stats('configs/xxx.py')      # or a Config, or a dataset
    stats['csi_mean'], stats['csi_std']              # [amplitude, phase]
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.utils import track_iter_progress


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


def file_pipeline(args: argparse.Namespace) -> List[dict]:
    """CSI transforms for file/directory mode, built from the arguments."""
    phase_key = None if str(args.phase_key).lower() == 'none' else args.phase_key
    pipeline = [
        dict(type='LoadCSIFromFile', amp_key=args.amp_key, phase_key=phase_key,
             expected_shape=args.expected_shape, reshape=args.reshape,
             missing_phase=args.missing_phase)
    ]
    if not args.no_sanitize:
        pipeline.append(
            dict(type='CSIPhaseSanitize', subcarrier_axis=args.subcarrier_axis,
                 packet_axis=None if args.packet_axis < 0 else args.packet_axis,
                 view_shape=args.view_shape))
    return pipeline


def pipeline_until_packing(transforms: Sequence) -> List:
    """The transforms before the first packing one (type name ``Pack*``).

    Args:
        transforms (Sequence): Built transforms or their config dicts.

    Returns:
        list: The leading transforms that are not packing.
    """
    out = []
    for t in transforms:
        name = t.get('type', '') if isinstance(t, dict) else type(t).__name__
        if str(name).split('.')[-1].startswith('Pack'):
            break
        out.append(t)
    return out


def _dataset_from_config(cfg: Union[str, Config], split: str = 'train',
                         cfg_options: Optional[dict] = None):
    """Build ``<split>_dataloader.dataset`` of a config, pipeline included."""
    from mmengine.registry import init_default_scope

    from mmdensekd.registry import DATASETS
    from mmdensekd.utils import register_all_modules
    name = cfg if isinstance(cfg, str) else getattr(cfg, 'filename', '<config>')
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else copy.deepcopy(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    loader_key = f'{split}_dataloader'
    if loader_key not in cfg or 'dataset' not in cfg[loader_key]:
        raise ValueError(f'{name} has no {loader_key}.dataset')
    return DATASETS.build(cfg[loader_key]['dataset'])


def csi_samples(dataset, max_samples: Optional[int] = None,
                names: Optional[List[str]] = None) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """``(amplitude, phase)`` of each sample as the dataset's pipeline feeds
    them (up to, not including, its first packing transform).

    Args:
        dataset: An mmengine ``BaseDataset`` (``get_data_info``, ``pipeline``).
        max_samples (int, optional): Use the first N samples only.
        names (list, optional): Filled with the names of the transforms run.

    Yields:
        tuple[np.ndarray, np.ndarray]: Amplitude and phase, shape ``S``.
    """
    transforms = pipeline_until_packing(getattr(dataset.pipeline, 'transforms', []))
    if names is not None:
        names.extend(type(t).__name__ for t in transforms)
    if not any(type(t).__name__ == 'LoadCSIFromFile' for t in transforms):
        raise ValueError('the dataset pipeline loads no CSI (no LoadCSIFromFile before its '
                         'first packing transform)')
    total = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    for i in track_iter_progress(list(range(total))):
        results = dataset.get_data_info(i)
        for t in transforms:
            results = t(results)
            if results is None:
                raise ValueError(f'sample {i} ({dataset.get_data_info(i).get("csi_path")}) '
                                 f'was dropped by {type(t).__name__}')
        yield results['csi_amplitude'], results['csi_phase']


def compute_csi_stats(dataset_or_cfg,
                      split: str = 'train',
                      cfg_options: Optional[dict] = None,
                      per_element: bool = False,
                      max_samples: Optional[int] = None) -> Dict:
    """CSI statistics of exactly what a dataset's pipeline feeds the model.

    Args:
        dataset_or_cfg (str | Config | BaseDataset): A config file / Config
            (its ``<split>_dataloader.dataset`` is built) or a dataset.
        split (str): ``'train'``, ``'val'`` or ``'test'`` (configs only).
            Defaults to ``'train'``.
        cfg_options (dict, optional): Overrides merged into the config.
        per_element (bool): Also return per-element statistics.
        max_samples (int, optional): Use the first N samples only.

    Returns:
        dict: ``csi_mean`` / ``csi_std`` (``[amplitude, phase]``),
        ``num_samples``, ``shape``, ``transforms`` (the transforms run) and,
        with ``per_element``, per-element arrays (see
        :func:`csi_stats_from_samples`).
    """
    if isinstance(dataset_or_cfg, (str, Config)):
        dataset = _dataset_from_config(dataset_or_cfg, split, cfg_options)
    else:
        dataset = dataset_or_cfg
    names: List[str] = []
    stats = csi_stats_from_samples(csi_samples(dataset, max_samples, names), per_element)
    stats['transforms'] = names
    return stats


def csi_stats_from_samples(samples: Iterable[Tuple[np.ndarray, np.ndarray]],
                           per_element: bool = False) -> Dict:
    """Mean and population std of amplitude and phase.

    Args:
        samples (Iterable[tuple]): ``(amplitude, phase)`` arrays of shape
            ``S`` (all samples the same shape).
        per_element (bool): Also return per-element statistics.

    Returns:
        dict: ``csi_mean`` and ``csi_std`` (``[amplitude, phase]`` floats),
        ``num_samples``, ``shape`` and, with ``per_element``,
        ``csi_mean_per_element`` / ``csi_std_per_element`` (nested lists of
        shape ``(2, *S)``).
    """
    total = total_sq = None
    count = 0
    shape = None
    for amp, phase in samples:
        stacked = np.stack([np.asarray(amp, np.float64), np.asarray(phase, np.float64)])
        if shape is None:
            shape = stacked.shape[1:]
            total = np.zeros(stacked.shape)
            total_sq = np.zeros(stacked.shape)
        elif stacked.shape[1:] != shape:
            raise ValueError(f'CSI sample {count} has shape {stacked.shape[1:]}, the first '
                             f'had {shape}')
        total += stacked
        total_sq += stacked**2
        count += 1
    if count == 0:
        raise ValueError('No CSI samples to compute statistics from')
    axes = tuple(range(1, total.ndim))
    n_elem = count * int(np.prod(shape))
    mean = total.sum(axis=axes) / n_elem
    var = np.maximum(total_sq.sum(axis=axes) / n_elem - mean**2, 0)
    std = np.sqrt(var)
    if (std == 0).any():
        print('WARNING: zero standard deviation for '
              f'{[n for n, s in zip(("amplitude", "phase"), std) if s == 0]}; reported as 1.0',
              file=sys.stderr)
        std = np.where(std == 0, 1.0, std)
    stats = dict(
        csi_mean=[float(v) for v in mean],
        csi_std=[float(v) for v in std],
        num_samples=count,
        shape=list(shape))
    if per_element:
        el_mean = total / count
        el_std = np.sqrt(np.maximum(total_sq / count - el_mean**2, 0))
        el_std = np.where(el_std == 0, 1.0, el_std)
        stats['csi_mean_per_element'] = el_mean.tolist()
        stats['csi_std_per_element'] = el_std.tolist()
    return stats


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    if len(args.sources) == 1 and args.sources[0].endswith('.py'):
        stats = compute_csi_stats(args.sources[0], args.split, args.cfg_options,
                                  args.per_element, args.max_samples)
        print(f'pipeline up to packing: {" -> ".join(stats["transforms"])}')
    else:
        from mmdensekd.registry import TRANSFORMS
        from mmdensekd.utils import register_all_modules
        register_all_modules()
        transforms = [TRANSFORMS.build(t) for t in file_pipeline(args)]

        def samples():
            for path in list_mat_files(args.sources):
                results = dict(csi_path=path)
                for transform in transforms:
                    results = transform(results)
                yield results['csi_amplitude'], results['csi_phase']

        stats = csi_stats_from_samples(samples(), per_element=args.per_element)
    print(f'{stats["num_samples"]} CSI samples of shape {tuple(stats["shape"])}')
    for i, part in enumerate(('amplitude', 'phase')):
        print(f'{part}: mean {stats["csi_mean"][i]:.6f}, std {stats["csi_std"][i]:.6f}')
    print(f'csi_mean={[round(v, 6) for v in stats["csi_mean"]]}, '
          f'csi_std={[round(v, 6) for v in stats["csi_std"]]}')
    if args.out:
        out_dir = osp.dirname(osp.abspath(args.out))
        os.makedirs(out_dir, exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(stats, f, indent=2)
        print(f'statistics written to {args.out}')
    return stats


if __name__ == '__main__':
    main()
