# Copyright (c) mmdensekd contributors. All rights reserved.
"""Plot loss / metric curves and compute the training time from mmengine's
scalar logs (``work_dir/TIMESTAMP/vis_data/TIMESTAMP.json`` or
``scalars.json``: one JSON object per line).

Examples::

    python tools/analysis/analyze_logs.py plot_curve LOG.json [LOG2.json ...] \\
        --keys loss student.loss_densepose distill.loss_transfer --out curves.png \\
        [--legend a b c] [--title T]
    python tools/analysis/analyze_logs.py cal_train_time LOG.json [--include-outliers]

Plots are drawn with matplotlib's headless ``Agg`` backend.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

Curves = Dict[str, Tuple[np.ndarray, np.ndarray]]


def load_json_log(path: str) -> List[dict]:
    """The records of an mmengine scalar log, in file order.

    Args:
        path (str): ``vis_data/*.json`` file (one JSON object per line).

    Returns:
        list[dict]: One dict per non-empty line.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: A line is not a JSON object (the message names the file
            and the line number).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'log file {path} does not exist')
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{lineno}: not a JSON line ({e.msg})') from None
            if not isinstance(record, dict):
                raise ValueError(f'{path}:{lineno}: expected a JSON object, got '
                                 f'{type(record).__name__}')
            records.append(record)
    return records


def _x_of(record: dict) -> Optional[float]:
    for key in ('step', 'iter', 'epoch'):
        if isinstance(record.get(key), (int, float)):
            return float(record[key])
    return None


def extract_curve(records: Sequence[dict], key: str) -> Tuple[np.ndarray, np.ndarray]:
    """(x, y) of ``key`` over the records that have it.

    x is the training iteration: a training record's ``iter`` (else its
    ``step``); a validation record (no ``iter``; mmengine logs it with the
    epoch as ``step``, 0 for iteration-based runs) takes the iteration of the
    training record before it, or its own ``step`` when there is none.
    """
    xs, ys = [], []
    last_iter = None
    for record in records:
        if isinstance(record.get('iter'), (int, float)):
            last_iter = float(record['iter'])
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            x = last_iter if last_iter is not None else _x_of(record)
            xs.append(float(len(xs) + 1) if x is None else x)
            ys.append(float(value))
    return np.asarray(xs, np.float64), np.asarray(ys, np.float64)


def plot_curves(log_files: Sequence[str],
                keys: Sequence[str],
                out: Optional[str] = None,
                legend: Optional[Sequence[str]] = None,
                title: Optional[str] = None) -> Curves:
    """Plot ``keys`` of every log into one figure.

    Args:
        log_files (Sequence[str]): mmengine ``vis_data/*.json`` scalar logs.
        keys (Sequence[str]): Scalar names, e.g. ``loss``,
            ``student.loss_densepose``, ``distill.loss_transfer`` or a metric
            such as ``coco/bbox_mAP``.
        out (str, optional): Image file to write (PNG, PDF, ...); None only
            returns the data.
        legend (Sequence[str], optional): One label per (log, key) pair, in
            log-major order; defaults to ``key`` for one log and
            ``'{log file name}: {key}'`` for several.
        title (str, optional): Figure title.

    Returns:
        dict[str, tuple[np.ndarray, np.ndarray]]: legend label -> (x, y), x
        being the training iteration (:func:`extract_curve`); with ``out``,
        read back from the figure's lines.

    Raises:
        ValueError: No log or key given, a wrong number of legend labels, or
            a key that a log never records (the message lists its keys).
    """
    if not log_files or not keys:
        raise ValueError('give at least one log file and one key')
    num = len(log_files) * len(keys)
    if legend is not None and len(legend) != num:
        raise ValueError(f'{len(legend)} legend labels for {len(log_files)} logs x '
                         f'{len(keys)} keys = {num} curves')
    curves: Curves = {}
    for i, log_file in enumerate(log_files):
        records = load_json_log(log_file)
        for j, key in enumerate(keys):
            x, y = extract_curve(records, key)
            if len(x) == 0:
                known = sorted({k for r in records for k in r})
                raise ValueError(f'{log_file} has no scalar {key!r}; its keys: {known}')
            if legend is not None:
                label = legend[i * len(keys) + j]
            else:
                label = key if len(log_files) == 1 else f'{osp.basename(log_file)}: {key}'
            curves[label] = (x, y)
    if out is not None:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 5))
        for label, (x, y) in curves.items():
            ax.plot(x, y, label=label, linewidth=1.2, marker='.' if len(x) < 50 else None)
        # return what the figure really holds
        curves = {line.get_label(): (np.asarray(line.get_xdata(), np.float64),
                                     np.asarray(line.get_ydata(), np.float64))
                  for line in ax.get_lines()}
        ax.set_xlabel('iter')
        ax.legend()
        ax.grid(alpha=0.3)
        if title:
            ax.set_title(title)
        out_dir = osp.dirname(osp.abspath(out))
        os.makedirs(out_dir, exist_ok=True)
        fig.savefig(out, dpi=100, bbox_inches='tight')
        plt.close(fig)
    return curves


def cal_train_time(log_file: str, include_outliers: bool = False) -> Dict[str, float]:
    """Iteration-time statistics of the training records of a log.

    Args:
        log_file (str): mmengine ``vis_data/*.json`` scalar log.
        include_outliers (bool): Keep the first logged interval (which holds
            the start-up cost). Defaults to False.

    Returns:
        dict[str, float]: ``num_records``, ``mean`` / ``std`` / ``min`` /
        ``max`` seconds per iteration (the logged ``time`` averages), the
        last logged ``iter`` and ``total_hours`` (= mean x last iter / 3600).

    Raises:
        ValueError: The log has no training record with ``time``.
    """
    records = [r for r in load_json_log(log_file)
               if isinstance(r.get('time'), (int, float)) and 'loss' in r]
    if not records:
        records = [r for r in load_json_log(log_file) if isinstance(r.get('time'), (int, float))]
    if not include_outliers and len(records) > 1:
        records = records[1:]
    if not records:
        raise ValueError(f'{log_file} has no training record with a "time" entry')
    times = np.asarray([r['time'] for r in records], np.float64)
    last_iter = max(float(_x_of(r) or 0) for r in records)
    stats = dict(num_records=float(len(times)), mean=float(times.mean()),
                 std=float(times.std()), min=float(times.min()), max=float(times.max()),
                 last_iter=last_iter, total_hours=float(times.mean() * last_iter / 3600))
    return stats


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyse mmengine scalar logs')
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot scalars against the iteration')
    plot.add_argument('json_logs', nargs='+', help='vis_data/*.json scalar logs')
    plot.add_argument('--keys', nargs='+', default=['loss'], help='scalars to plot')
    plot.add_argument('--out', default=None, help='output image (default: show nothing, '
                      'print the curve lengths)')
    plot.add_argument('--legend', nargs='+', default=None, help='one label per log x key')
    plot.add_argument('--title', default=None, help='figure title')
    cal = sub.add_parser('cal_train_time', help='seconds per iteration of a training log')
    cal.add_argument('json_logs', nargs='+', help='vis_data/*.json scalar logs')
    cal.add_argument('--include-outliers', action='store_true',
                     help='keep the first logged interval')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None):
    args = parse_args(argv)
    if args.task == 'plot_curve':
        curves = plot_curves(args.json_logs, args.keys, args.out, args.legend, args.title)
        for label, (x, y) in curves.items():
            print(f'{label}: {len(x)} points, iter {x[0]:g}..{x[-1]:g}, '
                  f'first {y[0]:.4f}, last {y[-1]:.4f}')
        if args.out:
            print(f'curves written to {args.out}')
        return curves
    results = {}
    for log in args.json_logs:
        stats = cal_train_time(log, args.include_outliers)
        results[log] = stats
        print(f'{"-" * 10} Analyse train time of {log} {"-" * 10}')
        print(f'average iter time: {stats["mean"]:.4f} s/iter (std {stats["std"]:.4f}, '
              f'min {stats["min"]:.4f}, max {stats["max"]:.4f}) over '
              f'{int(stats["num_records"])} logged intervals')
        print(f'iterations: {int(stats["last_iter"])}, estimated total: '
              f'{stats["total_hours"]:.3f} h')
    return results


if __name__ == '__main__':
    main()
