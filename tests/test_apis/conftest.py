# Copyright (c) mmdensekd contributors. All rights reserved.
"""Fixtures of the WiFi demo tests: the demo scripts and a random tiny student."""
import os.path as osp

import pytest
import torch
from wifi_demo_testing import ROOT, WIFI_CFG, load_script

from mmdensekd.apis import init_model


@pytest.fixture(scope='module')
def demo():
    return load_script(osp.join(ROOT, 'demo', 'wifi_demo.py'), 'wifi_demo')


@pytest.fixture(scope='module')
def live():
    return load_script(osp.join(ROOT, 'demo', 'wifi_live_demo.py'), 'wifi_live_demo')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory, demo):
    """A randomly initialised tiny WiFi distiller (MTN + R18-FPN student)."""
    cfg = demo.wifi_student_config(WIFI_CFG)
    torch.manual_seed(0)
    model = init_model(cfg)
    model.init_weights()
    path = tmp_path_factory.mktemp('ckpt') / 'wifi_tiny_random.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)
