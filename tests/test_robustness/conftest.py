# Copyright (c) mmdensekd contributors. All rights reserved.
"""Fixtures of the bad-input matrix: a small real DensePose-COCO json (the
COCO keypoint annotations of ``tests/data/coco_tiny`` plus seeded DensePose
fields), and a per-test time limit (SIGALRM) so that no case can hang."""
import copy
import json
import os.path as osp
import signal

import numpy as np
import pytest
from pycocotools import mask as mask_utils

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COCO_TINY = osp.join(ROOT, 'tests', 'data', 'coco_tiny')
CSI_DIR = osp.join(ROOT, 'tests', 'data', 'wifi_csi', 'mmfi_frames')
#: Seconds any single bad-input case may take.
CASE_TIMEOUT = 60


@pytest.fixture(scope='session', autouse=True)
def mmdet_scope():
    """Pipelines name our transforms without a scope, as configs do."""
    from mmdensekd.utils import register_all_modules
    register_all_modules(init_default_scope=True)


def pytest_configure(config):
    config.addinivalue_line('markers', 'case_timeout(seconds): time limit of one bad-input '
                            'case that starts a tool in a subprocess (default CASE_TIMEOUT)')


@pytest.fixture(autouse=True)
def case_timeout(request):
    """Fail (instead of hanging) a case that runs past :data:`CASE_TIMEOUT`
    (or its ``case_timeout`` mark: end-to-end cases that start a tool)."""
    mark = request.node.get_closest_marker('case_timeout')
    limit = int(mark.args[0]) if mark else CASE_TIMEOUT

    def on_alarm(signum, frame):
        raise TimeoutError(f'bad-input case ran past {limit} s (a hang)')

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii'))


def dp_fields(seed: int = 0, num_points: int = 20) -> dict:
    """Valid DensePose fields: points and 14 masks (parts 0 and 13 present)."""
    rng = np.random.default_rng(seed)
    masks = []
    for i in range(14):
        mask = np.zeros((256, 256), dtype=np.uint8)
        if i in (0, 13):
            mask[40 + 10 * i:120 + 5 * i, 60:180] = 1
            masks.append(_rle(mask))
        else:
            masks.append([])
    return dict(dp_x=rng.uniform(1, 255, num_points).round(2).tolist(),
                dp_y=rng.uniform(1, 255, num_points).round(2).tolist(),
                dp_I=rng.integers(1, 25, num_points).astype(float).tolist(),
                dp_U=(rng.integers(0, 256, num_points) / 255).tolist(),
                dp_V=(rng.integers(0, 256, num_points) / 255).tolist(), dp_masks=masks)


class TinyCoco:
    """The coco_tiny json with DensePose fields on its first annotation.

    Args:
        tmp_path: pytest's temporary directory.
    """

    img_dir = COCO_TINY

    def __init__(self, tmp_path) -> None:
        self.tmp_path = tmp_path
        with open(osp.join(COCO_TINY, 'test_coco.json')) as f:
            self.coco = json.load(f)
        self.coco['annotations'][0].update(dp_fields())
        self.dp_ann = self.coco['annotations'][0]

    def copy(self) -> dict:
        return copy.deepcopy(self.coco)

    def write(self, coco=None, name: str = 'gt.json') -> str:
        path = str(self.tmp_path / name)
        with open(path, 'w') as f:
            json.dump(self.coco if coco is None else coco, f)
        return path

    def with_ann(self, index: int = 0, **fields) -> dict:
        """A copy whose annotation ``index`` is updated with ``fields``."""
        coco = self.copy()
        coco['annotations'][index].update(fields)
        return coco

    def dataset(self, coco=None, **kwargs):
        from mmdensekd.datasets import DensePoseCocoDataset
        kwargs.setdefault('data_prefix', dict(img=COCO_TINY))
        kwargs.setdefault('pipeline', [])
        return DensePoseCocoDataset(ann_file=self.write(coco), **kwargs)


@pytest.fixture
def tiny_coco(tmp_path) -> TinyCoco:
    return TinyCoco(tmp_path)


@pytest.fixture
def make_dp_fields():
    """:func:`dp_fields`, for the test modules (tests are not a package)."""
    return dp_fields


@pytest.fixture(scope='session')
def paths():
    """Repository paths used by the cases."""
    return dict(root=ROOT, coco_tiny=COCO_TINY, csi_dir=CSI_DIR)
