# Copyright (c) mmdensekd contributors. All rights reserved.
"""Resolved-config snapshots: what ``tools/analysis/print_config.py`` shows,
as sorted JSON, to check that a config refactor keeps every config's meaning.

Write snapshots of a config tree (e.g. one taken from git without touching
the working tree)::

    git archive REV configs | tar -x -C /tmp/cfg_before
    python mmdensekd/testing/config_snapshot.py /tmp/cfg_before/configs \
        tests/data/config_snapshots

Only ``mmengine`` is imported, so this runs before the package is importable.
"""
import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

from mmengine.config import Config

#: Marks a key that one side of :func:`dict_differences` does not have.
MISSING = '<missing>'


def list_configs(config_root: Path) -> List[Path]:
    """Every leaf config under ``config_root`` (``_base_`` files excluded)."""
    return sorted(p for p in Path(config_root).rglob('*.py') if '_base_' not in p.parts)


def snapshot_name(config_root: Path, path: Path) -> str:
    """File name of the snapshot of ``path``: its relative path with ``/``
    replaced by ``__`` and ``.json`` instead of ``.py``."""
    rel = Path(path).resolve().relative_to(Path(config_root).resolve())
    return '__'.join(rel.with_suffix('.json').parts)


def resolved_config(path: Path) -> Dict[str, Any]:
    """The fully merged config of ``path`` as plain JSON data.

    Tuples become lists (as JSON has no tuple); anything JSON cannot hold
    becomes its ``repr``. ``custom_imports`` are not imported.

    Args:
        path (Path): A config file.

    Returns:
        dict: The resolved config, normalised through a JSON round trip.
    """
    cfg = Config.fromfile(str(path), import_custom_modules=False)
    return json.loads(json.dumps(cfg.to_dict(), sort_keys=True, default=repr))


def dict_differences(old: Any, new: Any, path: str = '') -> List[Tuple[str, Any, Any]]:
    """Every leaf where two JSON-like values differ.

    Args:
        old: The snapshot value.
        new: The current value.
        path (str): Dotted path of ``old`` / ``new`` (list items as ``[i]``).

    Returns:
        list[tuple[str, Any, Any]]: ``(path, old, new)``; a missing key is
        reported with :data:`MISSING` on its side.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        diffs = []
        for key in sorted(set(old) | set(new)):
            sub = f'{path}.{key}' if path else str(key)
            diffs += dict_differences(old.get(key, MISSING), new.get(key, MISSING), sub)
        return diffs
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        diffs = []
        for i, (a, b) in enumerate(zip(old, new)):
            diffs += dict_differences(a, b, f'{path}[{i}]')
        return diffs
    return [] if old == new else [(path, old, new)]


def write_snapshots(config_root: Path, out_dir: Path) -> List[Path]:
    """Write the resolved config of every leaf config under ``config_root``.

    Args:
        config_root (Path): Root of a ``configs/`` tree.
        out_dir (Path): Output directory (created).

    Returns:
        list[Path]: The files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in list_configs(config_root):
        out = out_dir / snapshot_name(config_root, path)
        out.write_text(json.dumps(resolved_config(path), sort_keys=True, indent=1) + '\n')
        written.append(out)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config_root', type=Path, help='root of a configs/ tree')
    parser.add_argument('out_dir', type=Path, help='directory of the JSON snapshots')
    args = parser.parse_args()
    for path in write_snapshots(args.config_root, args.out_dir):
        print(path)


if __name__ == '__main__':
    main()
