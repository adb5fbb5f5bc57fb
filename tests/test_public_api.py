# Copyright (c) mmdensekd contributors. All rights reserved.
"""mmdensekd extends mmengine / mmdet / mmcv / mmpose through their public
API only (issue 19).

Every ``.py`` file of the package is parsed (``ast``) and checked for:

* a private name imported from an upstream package
  (``from mmengine.runner.loops import _parse_losses``, ``import mmdet._x``);
* a private attribute read or written on another object
  (``runner._train_loop``, ``loop._iter = 3``): an ``obj._name`` whose
  ``obj`` is not ``self`` / ``cls`` / ``super()`` (a class's own private
  attributes are its business);
* a function assigned over another object's attribute (a monkey patch:
  ``runner.save_checkpoint = save``, ``setattr(model, 'parse_losses', fn)``).
"""
import ast
from pathlib import Path
from typing import List

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'mmdensekd'
UPSTREAM = ('mmengine', 'mmdet', 'mmcv', 'mmpose')
OWN = ('self', 'cls')
FILES = sorted(PACKAGE.rglob('*.py'))


def _private(name: str) -> bool:
    return name.startswith('_') and not (name.startswith('__') and name.endswith('__'))


def _owner_is_own(node: ast.expr) -> bool:
    """``self`` / ``cls`` / ``super()`` (or ``self.x._y``: one of our
    objects' attributes is not ours to reach into either)."""
    if isinstance(node, ast.Name):
        return node.id in OWN
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == 'super'
    return False


def _functions_defined(tree: ast.AST) -> set:
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef))}


def _is_function_value(value: ast.expr, local_functions: set) -> bool:
    if isinstance(value, ast.Lambda):
        return True
    if isinstance(value, ast.Name) and value.id in local_functions:
        return True
    if isinstance(value, ast.Call):  # functools.partial(fn, ...), types.MethodType(fn, obj)
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', '')
        return name in ('partial', 'MethodType')
    return False


def violations(path: Path) -> List[str]:
    """Public-API violations in one file of the package, as
    ``'file:line: what'``."""
    return violations_in(path.read_text(encoding='utf-8'), str(path.relative_to(PACKAGE.parent)))


def violations_in(source: str, rel: str) -> List[str]:
    """Public-API violations in the Python ``source`` of file ``rel``."""
    tree = ast.parse(source, filename=rel)
    local_functions = _functions_defined(tree)
    found = []

    def add(node, what):
        found.append(f'{rel}:{node.lineno}: {what}')

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            root = node.module.split('.')[0]
            if root in UPSTREAM:
                if any(_private(part) for part in node.module.split('.')):
                    add(node, f'imports private module {node.module}')
                for alias in node.names:
                    if _private(alias.name):
                        add(node, f'imports private {node.module}.{alias.name}')
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split('.')
                if parts[0] in UPSTREAM and any(_private(p) for p in parts):
                    add(node, f'imports private module {alias.name}')
        elif isinstance(node, ast.Attribute):
            if _private(node.attr) and not _owner_is_own(node.value):
                add(node, f'private attribute {ast.unparse(node)}')
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            for target in targets:
                if (isinstance(target, ast.Attribute) and not _owner_is_own(target.value)
                        and value is not None and _is_function_value(value, local_functions)):
                    add(node, f'assigns a function over {ast.unparse(target)}')
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == 'setattr' and len(node.args) == 3
                and not _owner_is_own(node.args[0])
                and _is_function_value(node.args[2], local_functions)):
            add(node, f'setattr of a function on {ast.unparse(node.args[0])}')
    return found


def test_checker_catches_what_it_should():
    """The checks themselves, on a file with each kind of violation."""
    src = '\n'.join([
        'from mmengine.runner.loops import _parse_losses',
        'import mmdet._private_mod',
        'from mmdensekd.utils import _ok_own_private',
        'def save(*a): pass',
        'def f(runner, loop, model):',
        '    x = runner._train_loop',
        '    loop._iter = 3',
        '    runner.save_checkpoint = save',
        '    model.parse_losses = lambda losses: losses',
        "    setattr(model, 'step', save)",
        '    self._fine = 1',
        '    super()._fine_too()',
        '    model.name = "a string is not a patch"',
        '    return x.__class__',
    ])
    found = [v.split(': ', 1)[1] for v in violations_in(src, 'probe.py')]
    assert sorted(found) == sorted([
        'imports private mmengine.runner.loops._parse_losses',
        'imports private module mmdet._private_mod',
        'private attribute runner._train_loop',
        'private attribute loop._iter',
        'assigns a function over runner.save_checkpoint',
        'assigns a function over model.parse_losses',
        'setattr of a function on model',
    ]), found


def test_files_found():
    assert len(FILES) > 20
    assert any(p.name == 'nonfinite_guard_hook.py' for p in FILES)


@pytest.mark.parametrize('path', FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_public_api_only(path):
    found = violations(path)
    assert not found, 'private upstream API or monkey patch:\n' + '\n'.join(found)


def upstream_names() -> dict:
    """``'package.module.Name'`` -> files, for every name the package imports
    from mmengine / mmdet / mmcv / mmpose."""
    names: dict = {}
    for path in FILES:
        rel = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split('.')[0] in UPSTREAM:
                for alias in node.names:
                    names.setdefault(f'{node.module}.{alias.name}', []).append(rel)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split('.')[0] in UPSTREAM:
                        names.setdefault(alias.name, []).append(rel)
    return names


def test_upstream_names_imported_are_public():
    names = upstream_names()
    # the seams the engine extends are among them
    assert {'mmengine.hooks.CheckpointHook', 'mmengine.fileio.LocalBackend',
            'mmengine.runner.IterBasedTrainLoop', 'mmengine.runner.EpochBasedTrainLoop',
            'mmengine.runner.ValLoop', 'mmengine.runner.Runner'} <= set(names)
    private = {n: files for n, files in names.items()
               if any(_private(part) for part in n.split('.'))}
    assert private == {}, private
