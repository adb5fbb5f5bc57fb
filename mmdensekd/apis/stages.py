# Copyright (c) mmdensekd contributors. All rights reserved.
"""A small stage runner for multi-step recipes (the quickstart).

A recipe is a list of named stages, each a function with an input key (a
digest of what it depends on). :class:`StageRunner` runs a stage once per
key: after a successful run it writes ``work_dir/stages/<name>.json``
(key, wall seconds, the function's JSON-able result), so re-running a recipe
skips the stages whose inputs did not change and resumes where it stopped;
``force`` names stages to rerun. Independent stages run side by side in
threads of the standard :class:`~concurrent.futures.ThreadPoolExecutor`
(they wait on subprocesses). Commands run through :func:`run_command`.
"""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Tuple

StageItem = Tuple[str, str, Callable[[], Optional[dict]]]

__all__ = ['StageRunner', 'input_digest', 'run_command', 'say']


def say(line: str) -> None:
    """Print one whole line at once (stages may run in parallel threads)."""
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def input_digest(*parts, root: str = '.') -> str:
    """A short hash of JSON-able parts; a part that names a file under
    ``root`` contributes the file's content.

    Args:
        *parts: Values and file paths (relative to ``root``).
        root (str): Base of relative file paths. Defaults to ``'.'``.

    Returns:
        str: 16 hex digits.
    """
    h = hashlib.sha256()
    for part in parts:
        path = osp.join(root, part) if isinstance(part, str) else None
        if path is not None and osp.isfile(path):
            with open(path, 'rb') as f:
                h.update(f.read())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def run_command(cmd: List[str], cwd: str, log: Optional[str] = None,
                threads: Optional[int] = None, name: str = 'stage') -> None:
    """Run a command; its output goes to ``log`` (the last 30 lines go to
    stderr when it fails).

    Args:
        cmd (list[str]): The command.
        cwd (str): Its working directory.
        log (str, optional): Output file; None lets the output through.
        threads (int, optional): Cap of torch / OpenMP / MKL threads.
        name (str): Prefix of the failure message.

    Raises:
        SystemExit: The command failed (the message names its log).
    """
    say('  $ ' + ' '.join(cmd))
    env = None
    if threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if log is None:
        subprocess.run(cmd, cwd=cwd, check=True, env=env)
        return
    os.makedirs(osp.dirname(log), exist_ok=True)
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        with open(log) as f:
            sys.stderr.write(''.join(f.readlines()[-30:]))
        raise SystemExit(f'[{name}] command failed (exit {proc.returncode}); log: {log}')


class StageRunner:
    """Run named stages once per input key (markers in ``work_dir/stages``).

    Args:
        work_dir (str): Where the ``stages/`` markers go.
        force (Sequence[str]): Stages to rerun even when up to date.
        name (str): Prefix of the progress lines. Defaults to ``'stage'``.

    Attributes:
        times (dict[str, float]): Wall seconds per stage (a parallel group's
            once, under the names joined by ``+``), including the booked
            times of skipped stages.
    """

    def __init__(self, work_dir: str, force: Sequence[str] = (), name: str = 'stage') -> None:
        self.dir = osp.join(work_dir, 'stages')
        os.makedirs(self.dir, exist_ok=True)
        self.force = set(force)
        self.name = name
        self.times: Dict[str, float] = {}

    def _done(self, name: str, key: str) -> Optional[dict]:
        """The marker of ``name`` if it was finished with ``key``."""
        marker = osp.join(self.dir, f'{name}.json')
        if name in self.force or not osp.isfile(marker):
            return None
        with open(marker) as f:
            done = json.load(f)
        return done if done.get('key') == key else None

    def _record(self, name: str, key: str, seconds: float, result: dict,
                group: Optional[str]) -> None:
        marker = osp.join(self.dir, f'{name}.json')
        with open(marker + '.tmp', 'w') as f:
            json.dump(dict(key=key, seconds=seconds, result=result, group=group), f, indent=1)
        os.replace(marker + '.tmp', marker)

    def _book(self, name: str, marker: dict) -> None:
        """Book a skipped stage's time (a parallel group's wall time once)."""
        group = marker.get('group')
        if group:
            self.times[group] = max(self.times.get(group, 0.0), marker.get('seconds', 0.0))
        else:
            self.times[name] = marker.get('seconds', 0.0)

    def run(self, name: str, key: str, fn: Callable[[], Optional[dict]]) -> dict:
        """Run one stage unless it is up to date; returns its result."""
        return self.run_parallel([(name, key, fn)], jobs=1)[0]

    def run_parallel(self, items: Sequence[StageItem], jobs: int) -> List[dict]:
        """Run the out-of-date ``(name, key, fn)`` items, ``jobs`` at a time.

        A failing stage re-raises its error and is not recorded.

        Returns:
            list[dict]: The results, in the order of ``items``.
        """
        results: Dict[str, dict] = {}
        todo = []
        for name, key, fn in items:
            done = self._done(name, key)
            if done is None:
                todo.append((name, key, fn))
            else:
                say(f'[{self.name}] {name}: up to date, skipped')
                self._book(name, done)
                results[name] = done.get('result', {})
        start = time.time()
        group = '+'.join(n for n, _, _ in todo) if len(todo) > 1 and jobs > 1 else None

        def one(item: StageItem) -> None:
            name, key, fn = item
            say(f'[{self.name}] {name}: running')
            t0 = time.time()
            results[name] = fn() or {}
            seconds = time.time() - t0
            self._record(name, key, seconds, results[name], group)
            say(f'[{self.name}] {name}: done in {seconds:.0f} s')
            if not group:
                self.times[name] = seconds

        if group:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(one, todo))
            self.times[group] = time.time() - start
        else:
            for item in todo:
                one(item)
        return [results[name] for name, _, _ in items]
