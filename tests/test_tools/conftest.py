# Copyright (c) mmdensekd contributors. All rights reserved.
"""Fixtures for the tools/ tests: tools/ is not a package, its scripts are
imported from their paths."""
import importlib.util
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='session')
def repo_root() -> str:
    return ROOT


@pytest.fixture(scope='session')
def tiny_config() -> str:
    return osp.join(ROOT, 'configs', 'densepose_rcnn',
                    'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('analysis/print_config.py')`` -> the script as a module."""

    def load(rel_path: str):
        path = osp.join(ROOT, 'tools', rel_path)
        name = 'tool_' + rel_path.replace('/', '_').replace('.py', '')
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
