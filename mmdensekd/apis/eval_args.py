# Copyright (c) mmdensekd contributors. All rights reserved.
"""Map mmdet 2.x / mmpose 0.x style ``--eval METRIC ...`` onto evaluators."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence

__all__ = ['EVAL_METRICS', 'EVAL_ALIASES', 'parse_eval_names', 'eval_to_evaluators',
           'find_ann_file']

#: ``--eval`` name -> evaluator type it builds.
EVAL_METRICS: Dict[str, str] = {
    'bbox': 'CocoMetric',
    'keypoints': 'CocoKeypointMetric',
    'densepose': 'DensePoseMetric',
}
#: Spellings users bring from mmdet 2.x / mmpose 0.x.
EVAL_ALIASES: Dict[str, str] = {
    'mAP': 'keypoints',
    'keypoint': 'keypoints',
    'dp': 'densepose',
}


def _valid_names() -> str:
    aliases = ', '.join(f'{a} (= {n})' for a, n in EVAL_ALIASES.items())
    return f"{', '.join(EVAL_METRICS)}; aliases: {aliases}"


def parse_eval_names(names: Sequence[str]) -> List[str]:
    """Normalise ``--eval`` values (space or comma separated, aliases).

    Args:
        names (Sequence[str]): Raw values, e.g. ``['bbox', 'densepose']`` or
            ``['bbox,mAP']``.

    Returns:
        list[str]: Canonical names in ``EVAL_METRICS``, de-duplicated, in the
        given order.

    Raises:
        ValueError: an unknown name, listing the valid ones.
    """
    out: List[str] = []
    for raw in names:
        for name in str(raw).split(','):
            name = name.strip()
            if not name:
                continue
            canon = EVAL_ALIASES.get(name, name)
            if canon not in EVAL_METRICS:
                raise ValueError(f'--eval: unknown metric {name!r}; valid metrics: '
                                 f'{_valid_names()}')
            if canon not in out:
                out.append(canon)
    if not out:
        raise ValueError(f'--eval needs at least one metric: {_valid_names()}')
    return out


def _as_list(evaluator) -> List[dict]:
    if evaluator is None:
        return []
    if isinstance(evaluator, dict) and 'metrics' in evaluator and 'type' not in evaluator:
        evaluator = evaluator['metrics']  # Evaluator(metrics=[...]) form
    if isinstance(evaluator, dict):
        return [evaluator]
    return list(evaluator)


def _dataset_ann_file(dataset: Optional[dict]) -> Optional[str]:
    while isinstance(dataset, dict):
        if dataset.get('ann_file'):
            ann = dataset['ann_file']
            root = dataset.get('data_root') or ''
            return ann if osp.isabs(ann) or not root else osp.join(root, ann)
        inner = dataset.get('dataset', dataset.get('datasets'))
        dataset = inner[0] if isinstance(inner, (list, tuple)) and inner else inner
    return None


def find_ann_file(cfg, split: str = 'test') -> Optional[str]:
    """Annotation file of ``split`` in ``cfg``.

    Looks at ``{split}_evaluator`` entries with an ``ann_file`` first, then at
    ``{split}_dataloader.dataset`` (``data_root`` joined with ``ann_file``,
    through dataset wrappers).

    Args:
        cfg (Config | dict): A full config.
        split (str): ``'val'`` or ``'test'``.

    Returns:
        str | None: the path, or None when the config names none.
    """
    for metric in _as_list(cfg.get(f'{split}_evaluator')):
        if isinstance(metric, dict) and metric.get('ann_file'):
            return metric['ann_file']
    loader = cfg.get(f'{split}_dataloader') or {}
    return _dataset_ann_file(loader.get('dataset') if isinstance(loader, dict) else None)


def eval_to_evaluators(cfg, names: Sequence[str], split: str = 'test',
                       outfile: Optional[str] = None) -> List[dict]:
    """Build evaluator configs for ``--eval`` names.

    ``bbox`` -> ``CocoMetric(metric='bbox')``, ``keypoints`` ->
    ``CocoKeypointMetric``, ``densepose`` -> ``DensePoseMetric``, each with the
    split's ``ann_file``. An evaluator of the same type already in the
    config is reused (so e.g. its ``eval_data_dir`` is kept); ``outfile``
    becomes the ``DensePoseMetric``'s ``outfile_path``.

    Args:
        cfg (Config | dict): A full config.
        names (Sequence[str]): ``--eval`` values.
        split (str): Which split's annotations to score against.
        outfile (str, optional): JSON file the DensePose results are written to.

    Returns:
        list[dict]: evaluator configs, one per metric, for
        ``cfg.{split}_evaluator``.

    Raises:
        ValueError: unknown metric names, or no ``ann_file`` in the config.
    """
    canon = parse_eval_names(names)
    ann_file = find_ann_file(cfg, split)
    if ann_file is None:
        raise ValueError(f'--eval {" ".join(canon)}: the config has no ann_file in '
                         f'{split}_evaluator or {split}_dataloader.dataset')
    existing = {m.get('type'): m for m in _as_list(cfg.get(f'{split}_evaluator'))
                if isinstance(m, dict)}
    evaluators = []
    for name in canon:
        mtype = EVAL_METRICS[name]
        metric = copy.deepcopy(dict(existing.get(mtype) or existing.get(f'mmdet.{mtype}')
                                    or dict(type=mtype)))
        metric.setdefault('ann_file', ann_file)
        if name == 'bbox':
            metric['metric'] = 'bbox'
        elif name == 'densepose':
            metric.setdefault('eval_data_dir', None)
            if outfile is not None:
                metric['outfile_path'] = outfile
        evaluators.append(metric)
    return evaluators
