# Copyright (c) mmdensekd contributors. All rights reserved.
"""What the WiFi demo tests share: paths, the tiny student's options and
loading a script of demo/ or tools/ as a module."""
import importlib.util
import os.path as osp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
WIFI_CFG = osp.join(ROOT, 'configs', 'distill',
                    'kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py')
INTEL = osp.join(ROOT, 'tests', 'data', 'wifi_captures', 'sample_0x1_ap.dat')


def load_script(path: str, name: str):
    """Import the script at ``path`` as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def few_options(config: str) -> list:
    """Options for a random tiny student: 3 detections, unit CSI statistics
    (the dataset's meta file with the trained statistics is not in tests)."""
    from mmengine.config import Config
    student = Config.fromfile(config).model.get('student', {})
    if student.get('type') == 'CSIDetector':
        opts = ['model.student.detector.test_cfg.rcnn.max_per_img=3',
                'model.student.data_preprocessor.csi_stats_file=None',
                'model.student.data_preprocessor.csi_mean=[0.0,0.0]',
                'model.student.data_preprocessor.csi_std=[1.0,1.0]']
    else:
        opts = ['model.student.test_cfg.rcnn.max_per_img=3']
    return ['--cfg-options'] + opts + ['--score-thr', '0.0']


FEW = few_options(WIFI_CFG)
