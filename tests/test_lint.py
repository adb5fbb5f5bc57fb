# Copyright (c) mmdensekd contributors. All rights reserved.
"""The code base passes ruff with the project's ruff.toml."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TARGETS = ('mmdensekd', 'tools', 'configs', 'tests', 'demo', 'setup.py')


def test_ruff_check_is_clean():
    targets = [t for t in TARGETS if osp.exists(osp.join(ROOT, t))]
    proc = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', '--output-format', 'concise',
         '--config', osp.join(ROOT, 'ruff.toml'), *targets],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f'ruff check failed:\n{proc.stdout}\n{proc.stderr}'
