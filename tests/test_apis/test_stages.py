# Copyright (c) mmdensekd contributors. All rights reserved.
"""The stage runner of multi-step recipes (the quickstart)."""
import pytest

from mmdensekd.apis import StageRunner, input_digest


def test_stages_skip_when_inputs_unchanged(tmp_path):
    calls = []
    stages = StageRunner(str(tmp_path), force=[])
    assert stages.run('a', 'k1', lambda: calls.append(1) or {'x': 1}) == {'x': 1}
    assert stages.run('a', 'k1', lambda: calls.append(2)) == {'x': 1}
    stages.run('a', 'k2', lambda: calls.append(3))
    StageRunner(str(tmp_path), force=['a']).run('a', 'k2', lambda: calls.append(4))
    assert calls == [1, 3, 4]


def test_parallel_stages_run_together_and_skip_alone(tmp_path):
    import threading
    barrier = threading.Barrier(2, timeout=10)

    def job(value):
        def fn():
            barrier.wait()  # both must be running at once, or this times out
            return {'v': value}
        return fn

    stages = StageRunner(str(tmp_path), force=[])
    items = [('s', 'k', job(1)), ('c', 'k', job(2))]
    assert stages.run_parallel(items, jobs=2) == [{'v': 1}, {'v': 2}]
    assert set(stages.times) == {'s+c'}  # the group's wall time, booked once
    # a finished stage is skipped; only the changed one runs
    calls = []
    again = StageRunner(str(tmp_path), force=[])
    out = again.run_parallel([('s', 'k', lambda: calls.append('s')),
                              ('c', 'k2', lambda: calls.append('c') or {'v': 3})], jobs=2)
    assert calls == ['c'] and out == [{'v': 1}, {'v': 3}]
    # the skipped stage books its group's wall time, the re-run one its own
    assert set(again.times) == {'s+c', 'c'}
    both = StageRunner(str(tmp_path), force=[])
    both.run_parallel([('s', 'k', None), ('c', 'k2', None)], jobs=2)
    assert set(both.times) == {'s+c', 'c'}


def test_parallel_stage_failure_is_not_recorded(tmp_path):
    def boom():
        raise SystemExit('[quickstart] command failed')

    stages = StageRunner(str(tmp_path), force=[])
    with pytest.raises(SystemExit, match='command failed'):
        stages.run_parallel([('ok', 'k', lambda: {'v': 1}), ('bad', 'k', boom)], jobs=2)
    assert not (tmp_path / 'stages' / 'bad.json').exists()


def test_input_digest_reads_named_files(tmp_path):
    (tmp_path / 'a.txt').write_text('one')
    first = input_digest('a.txt', 3, root=str(tmp_path))
    assert first == input_digest('a.txt', 3, root=str(tmp_path)) and len(first) == 16
    (tmp_path / 'a.txt').write_text('two')  # the file's content counts, not its name
    assert input_digest('a.txt', 3, root=str(tmp_path)) != first
    assert input_digest('a.txt', 4, root=str(tmp_path)) != input_digest('a.txt', 3,
                                                                         root=str(tmp_path))
