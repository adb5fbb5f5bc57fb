# Copyright (c) mmdensekd contributors. All rights reserved.
"""Mean and spread of several quickstart (or full recipe) runs.

    for s in 0 1 2; do
        bash tools/misc/run_quickstart.sh --seed $s --work-dir work_dirs/quickstart_seed$s
    done
    python tools/analysis/summarize_seeds.py work_dirs/quickstart_seed*/summary.json \\
        [--out seeds.md]

Every cell is ``mean (min-max)`` over the runs, per split, model and metric;
the acceptance checks are counted (passed in how many runs) and the wall
times listed. The runs must share their splits, models and metrics (a clear
error names the file that differs).
"""
import argparse
import json
import re
from typing import Dict, List, Optional, Sequence

import numpy as np


def load_runs(paths: Sequence[str]) -> List[dict]:
    runs = []
    for path in paths:
        try:
            with open(path) as f:
                run = json.load(f)
        except (OSError, ValueError) as e:
            raise SystemExit(f'[summarize_seeds] {path}: cannot read ({e})')
        if not isinstance(run, dict) or not isinstance(run.get('summary'), dict):
            raise SystemExit(f"[summarize_seeds] {path}: no 'summary' (not a quickstart "
                             'summary.json)')
        run['path'] = path
        runs.append(run)
    if not runs:
        raise SystemExit('[summarize_seeds] no summary.json given')
    ref = runs[0]['summary']
    for run in runs[1:]:
        for split, models in ref.items():
            other = run['summary'].get(split, {})
            for model, row in models.items():
                if set(other.get(model, {})) != set(row):
                    raise SystemExit(f"[summarize_seeds] {run['path']}: {split}/{model} has "
                                     f"other metrics than {runs[0]['path']}")
    return runs


def spread_table(runs: List[dict]) -> Dict[str, Dict[str, Dict[str, tuple]]]:
    """``{split: {model: {metric: (mean, min, max)}}}``."""
    out: Dict[str, Dict[str, Dict[str, tuple]]] = {}
    for split, models in runs[0]['summary'].items():
        out[split] = {}
        for model, row in models.items():
            out[split][model] = {}
            for metric in row:
                v = np.array([r['summary'][split][model][metric] for r in runs], float)
                out[split][model][metric] = (float(v.mean()), float(v.min()), float(v.max()))
    return out


def acceptance_counts(runs: List[dict]) -> List[str]:
    """Each check (its text without the measured values) with the runs it passed in."""
    counts: Dict[str, List[int]] = {}
    for run in runs:
        for line in run.get('acceptance', []):
            ok = line.startswith('[PASS]')
            key = line.split('] ', 1)[-1]
            key = ' '.join(re.sub(r'\d+\.\d{3,}', ' ', key).split())  # measured values out
            counts.setdefault(key, []).append(int(ok))
    return [f'{sum(v)}/{len(runs)} runs pass: {k}' for k, v in counts.items()]


def render(runs: List[dict]) -> str:
    table = spread_table(runs)
    seeds = ', '.join(str(r.get('meta', {}).get('seed', '?')) for r in runs)
    walls = ', '.join(f"{r.get('meta', {}).get('wall_min', float('nan')):.1f}" for r in runs)
    lines = [f'# {len(runs)} runs (seeds {seeds}): mean (min-max)', '',
             f'wall time per run (min): {walls}', '']
    for split, models in table.items():
        metrics = list(next(iter(models.values())))
        lines += [f'## {split}', '', '| model | ' + ' | '.join(metrics) + ' |',
                  '|---|' + '---|' * len(metrics)]
        for model, row in models.items():
            cells = [f'{m:.3f} ({lo:.3f}-{hi:.3f})' for m, lo, hi in row.values()]
            lines.append(f'| {model} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    lines += ['## Acceptance', ''] + [f'- {c}' for c in acceptance_counts(runs)] + ['']
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('summaries', nargs='+', help='summary.json of each run')
    p.add_argument('--out', help='also write the table here')
    args = p.parse_args(argv)
    text = render(load_runs(args.summaries))
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
