# Copyright (c) mmdensekd contributors. All rights reserved.
"""CSI normalisation statistics that travel with the data.

The statistics are those of exactly what a pipeline feeds the model: the
amplitude and the sanitised phase after the transforms before the first
packing one. A dataset writer (the simulation generator, the capture
converter, ``tools/analysis/compute_csi_stats.py``) stores them in the
dataset's meta file (``meta.json``) under :data:`CSI_STATS_KEY`;
``PairedDataPreprocessor(csi_stats_file=...)`` reads them from there::

    stats = csi_stats_of_files(csi_paths, load=dict(expected_shape=(150, 3, 3)),
                               sanitize=CSI_LAYOUTS['person-in-wifi'].sanitize_kwargs())
    write_csi_stats('data/x/meta.json', stats)      # merged into the meta file
    mean, std = read_csi_stats('data/x/meta.json')  # [amplitude, phase] each

The meta file's ``csi_stats`` entry: ``csi_mean`` / ``csi_std`` (floats,
``[amplitude, phase]``, population std over all elements of all samples;
a zero std is stored as 1.0), ``num_samples``, ``shape`` (per-sample
``S``), ``transforms`` (names of the transforms run) and optionally
``source`` (what was measured, e.g. the training annotation file).
"""
import copy
import json
import os.path as osp
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.utils import track_iter_progress

from mmdensekd.utils.misc import atomic_write_text

#: Key of the statistics in a dataset's meta file.
CSI_STATS_KEY = 'csi_stats'

__all__ = [
    'CSI_STATS_KEY', 'csi_stats_from_samples', 'csi_samples', 'csi_stats_of_dataset',
    'csi_stats_of_files', 'dataset_from_config', 'pipeline_until_packing', 'read_csi_stats',
    'write_csi_stats'
]


def csi_stats_from_samples(samples: Iterable[Tuple[np.ndarray, np.ndarray]],
                           per_element: bool = False) -> Dict:
    """Mean and population std of amplitude and phase.

    Args:
        samples (Iterable[tuple]): ``(amplitude, phase)`` arrays of shape
            ``S`` (all samples the same shape).
        per_element (bool): Also return per-element statistics.

    Returns:
        dict: ``csi_mean`` and ``csi_std`` (``[amplitude, phase]`` floats; a
        zero std is reported as 1.0, with a warning), ``num_samples``,
        ``shape`` and, with ``per_element``, ``csi_mean_per_element`` /
        ``csi_std_per_element`` (nested lists of shape ``(2, *S)``).

    Raises:
        ValueError: No sample, or samples of different shapes.
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
    std = np.sqrt(np.maximum(total_sq.sum(axis=axes) / n_elem - mean**2, 0))
    if (std == 0).any():
        zero = [n for n, s in zip(('amplitude', 'phase'), std) if s == 0]
        print_log(f'zero CSI standard deviation for {zero}; reported as 1.0',
                  logger='current', level=30)
        std = np.where(std == 0, 1.0, std)
    stats = dict(csi_mean=[float(v) for v in mean], csi_std=[float(v) for v in std],
                 num_samples=count, shape=list(shape))
    if per_element:
        el_mean = total / count
        el_std = np.sqrt(np.maximum(total_sq / count - el_mean**2, 0))
        stats['csi_mean_per_element'] = el_mean.tolist()
        stats['csi_std_per_element'] = np.where(el_std == 0, 1.0, el_std).tolist()
    return stats


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


def dataset_from_config(cfg: Union[str, Config], split: str = 'train',
                        cfg_options: Optional[dict] = None):
    """Build ``<split>_dataloader.dataset`` of a config, pipeline included.

    Args:
        cfg (str | Config): Config file or object.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        BaseDataset: The dataset.
    """
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


def csi_stats_of_dataset(dataset_or_cfg,
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
        dict: :func:`csi_stats_from_samples`'s, plus ``transforms``.
    """
    if isinstance(dataset_or_cfg, (str, Config)):
        dataset = dataset_from_config(dataset_or_cfg, split, cfg_options)
    else:
        dataset = dataset_or_cfg
    names: List[str] = []
    stats = csi_stats_from_samples(csi_samples(dataset, max_samples, names), per_element)
    stats['transforms'] = names
    return stats


def csi_stats_of_files(csi_files: Sequence[str],
                       load: Optional[dict] = None,
                       sanitize: Optional[dict] = None,
                       per_element: bool = False) -> Dict:
    """CSI statistics of files loaded and sanitised as a pipeline would.

    Args:
        csi_files (Sequence[str]): ``.mat`` / ``.npy`` CSI files.
        load (dict, optional): ``LoadCSIFromFile`` arguments (e.g.
            ``expected_shape``, ``amp_key``).
        sanitize (dict, optional): ``CSIPhaseSanitize`` arguments (e.g. a
            layout's ``sanitize_kwargs()``); None skips the sanitiser.
        per_element (bool): Also return per-element statistics.

    Returns:
        dict: :func:`csi_stats_from_samples`'s, plus ``transforms``.
    """
    from mmdensekd.registry import TRANSFORMS
    from mmdensekd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfgs = [dict(type='LoadCSIFromFile', **(load or {}))]
    if sanitize is not None:
        cfgs.append(dict(type='CSIPhaseSanitize', **sanitize))
    transforms = [TRANSFORMS.build(c) for c in cfgs]

    def samples():
        for path in csi_files:
            results = dict(csi_path=path)
            for t in transforms:
                results = t(results)
            yield results['csi_amplitude'], results['csi_phase']

    stats = csi_stats_from_samples(samples(), per_element)
    stats['transforms'] = [type(t).__name__ for t in transforms]
    return stats


def write_csi_stats(meta_file: str, stats: Dict) -> None:
    """Store ``stats`` in a dataset's meta file (created if absent; other
    entries kept), atomically.

    Args:
        meta_file (str): The meta json (e.g. ``data_root/meta.json``).
        stats (dict): At least ``csi_mean`` and ``csi_std``.
    """
    for key in ('csi_mean', 'csi_std'):
        if key not in stats:
            raise KeyError(f'CSI statistics without {key!r}: {sorted(stats)}')
    meta = {}
    if osp.isfile(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        if not isinstance(meta, dict):
            raise ValueError(f'{meta_file}: the meta file holds a {type(meta).__name__}, '
                             'not an object')
    meta[CSI_STATS_KEY] = stats
    atomic_write_text(meta_file, json.dumps(meta, indent=2))


def read_csi_stats(meta_file: str, per_element: bool = False) -> Tuple[list, list]:
    """The ``(csi_mean, csi_std)`` a dataset's meta file holds.

    Args:
        meta_file (str): The meta json.
        per_element (bool): Read the per-element statistics. Defaults to
            False.

    Returns:
        tuple[list, list]: Mean and std, ``[amplitude, phase]`` (or
        ``(2, *S)`` nested lists with ``per_element``).

    Raises:
        FileNotFoundError: No such file.
        KeyError: The file holds no statistics (the message says how to
            write them).
    """
    if not osp.isfile(meta_file):
        raise FileNotFoundError(
            f'CSI statistics file {meta_file} not found: write it with '
            '`python tools/analysis/compute_csi_stats.py CONFIG --write-meta` (or regenerate '
            'the dataset)')
    with open(meta_file) as f:
        meta = json.load(f)
    stats = meta.get(CSI_STATS_KEY) if isinstance(meta, dict) else None
    suffix = '_per_element' if per_element else ''
    keys = (f'csi_mean{suffix}', f'csi_std{suffix}')
    if not isinstance(stats, dict) or any(k not in stats for k in keys):
        raise KeyError(
            f'{meta_file} has no {CSI_STATS_KEY}.{keys[0]} / {keys[1]}: write them with '
            '`python tools/analysis/compute_csi_stats.py CONFIG --write-meta`'
            + (' --per-element' if per_element else ''))
    return stats[keys[0]], stats[keys[1]]
