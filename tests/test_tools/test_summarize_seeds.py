# Copyright (c) mmdensekd contributors. All rights reserved.
"""Mean and spread of quickstart runs (tools/analysis/summarize_seeds.py)."""
import json

import pytest


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis/summarize_seeds.py')


def _run(tmp_path, seed, ap50, kpt, passed=True, wall=17.0):
    row = {'box AP50': ap50, 'kpt AP': kpt}
    run = dict(summary={'val': {'student': row, 'control': {'box AP50': 0.1, 'kpt AP': 0.0}}},
               acceptance=[f"[{'PASS' if passed else 'FAIL'}] student box AP50 - control "
                           f'= {ap50 - 0.1:.3f} (>= 0.2)'],
               meta=dict(seed=seed, wall_min=wall))
    path = tmp_path / f'seed{seed}.json'
    path.write_text(json.dumps(run))
    return str(path)


def test_mean_min_max_and_pass_counts(tool, tmp_path, capsys):
    paths = [_run(tmp_path, 0, 0.5, 0.01), _run(tmp_path, 1, 0.7, 0.03),
             _run(tmp_path, 2, 0.3, 0.02, passed=False, wall=19.5)]
    table = tool.spread_table(tool.load_runs(paths))
    mean, lo, hi = table['val']['student']['box AP50']
    assert (mean, lo, hi) == pytest.approx((0.5, 0.3, 0.7))
    assert table['val']['student']['kpt AP'] == pytest.approx((0.02, 0.01, 0.03))
    out = tmp_path / 'seeds.md'
    assert tool.main(paths + ['--out', str(out)]) == 0
    text = out.read_text()
    assert '| student | 0.500 (0.300-0.700) | 0.020 (0.010-0.030) |' in text
    assert '2/3 runs pass: student box AP50 - control = (>= 0.2)' in text
    assert 'seeds 0, 1, 2' in text and '19.5' in text
    assert text in capsys.readouterr().out


def test_mismatched_runs_and_bad_files_name_the_file(tool, tmp_path):
    good = _run(tmp_path, 0, 0.5, 0.01)
    other = tmp_path / 'other.json'
    other.write_text(json.dumps(dict(summary={'val': {'student': {'box AP50': 0.4},
                                                      'control': {}}})))
    with pytest.raises(SystemExit, match='other.json: val/student'):
        tool.load_runs([good, str(other)])
    broken = tmp_path / 'broken.json'
    broken.write_text('{')
    with pytest.raises(SystemExit, match='broken.json: cannot read'):
        tool.load_runs([str(broken)])
    with pytest.raises(SystemExit, match="notrun.json: no 'summary'"):
        (tmp_path / 'notrun.json').write_text('[]')
        tool.load_runs([str(tmp_path / 'notrun.json')])
