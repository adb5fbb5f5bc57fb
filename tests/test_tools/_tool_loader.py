# Copyright (c) mmdensekd contributors. All rights reserved.
"""Import a script under tools/ as a module (tools/ is not a package)."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                       'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')


def load_tool(rel_path: str):
    path = osp.join(ROOT, 'tools', rel_path)
    name = 'tool_' + rel_path.replace('/', '_').replace('.py', '')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
