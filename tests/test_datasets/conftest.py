# Copyright (c) mmdensekd contributors. All rights reserved.
"""Fixtures for the DensePose dataset and transform tests.

``dp_coco`` writes a DensePose-COCO json built from the real COCO keypoint
annotations of ``tests/data/coco_tiny`` plus seeded synthetic DensePose
fields; ``uv_symmetry_file`` writes a small ``UV_symmetry_transforms.mat``
with the structure of the real one (1x24 cells of 256x256 arrays).
"""
import copy
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

COCO_TINY = osp.abspath(osp.join(osp.dirname(__file__), '..', 'data', 'coco_tiny'))
#: Annotations that receive DensePose fields: ann id -> (image id, with masks).
DP_ANNS = {442619: (785, True), 198196: (40083, True), 460541: (196141, False)}


def make_part_masks(rng: np.random.Generator) -> list:
    """14 binary 256x256 masks (some empty) as uint8 arrays."""
    masks = []
    for i in range(14):
        mask = np.zeros((256, 256), dtype=np.uint8)
        if i % 4 != 3:  # parts 3, 7, 11 absent
            x0, y0 = rng.integers(0, 200, size=2)
            w, h = rng.integers(10, 56, size=2)
            mask[y0:y0 + h, x0:x0 + w] = 1
        masks.append(mask)
    return masks


def encode_masks(masks: list) -> list:
    """COCO compressed RLE (json-serialisable) of each mask, [] if empty."""
    rles = []
    for mask in masks:
        if not mask.any():
            rles.append([])
            continue
        rle = mask_utils.encode(np.asfortranarray(mask))
        rles.append(dict(size=[int(s) for s in rle['size']],
                         counts=rle['counts'].decode('ascii')))
    return rles


def make_dp_fields(rng: np.random.Generator, num_points: int = 30,
                   with_masks: bool = True) -> tuple:
    """Synthetic DensePose fields; U, V on the 1/255 grid. Returns (fields, masks)."""
    fields = dict(
        dp_x=rng.uniform(0, 256, num_points).round(3).tolist(),
        dp_y=rng.uniform(0, 256, num_points).round(3).tolist(),
        dp_I=rng.integers(1, 25, num_points).astype(float).tolist(),
        dp_U=(rng.integers(0, 256, num_points) / 255).tolist(),
        dp_V=(rng.integers(0, 256, num_points) / 255).tolist())
    masks = None
    if with_masks:
        masks = make_part_masks(rng)
        fields['dp_masks'] = encode_masks(masks)
    return fields, masks


def build_dp_coco(seed: int = 0) -> tuple:
    """A DensePose-COCO dict from coco_tiny; returns (coco, masks per ann id)."""
    with open(osp.join(COCO_TINY, 'test_coco.json')) as f:
        coco = json.load(f)
    rng = np.random.default_rng(seed)
    masks = {}
    for ann in coco['annotations']:
        if ann['id'] in DP_ANNS:
            fields, ann_masks = make_dp_fields(rng, with_masks=DP_ANNS[ann['id']][1])
            ann.update(fields)
            masks[ann['id']] = ann_masks
    return coco, masks


@pytest.fixture
def dp_coco(tmp_path):
    """Write the DensePose-COCO json; returns a helper namespace."""

    class Helper:
        img_dir = COCO_TINY

        def __init__(self):
            self.coco, self.masks = build_dp_coco()

        def ann(self, ann_id: int) -> dict:
            return next(a for a in self.coco['annotations'] if a['id'] == ann_id)

        def write(self, coco=None, name: str = 'dp_coco.json') -> str:
            path = str(tmp_path / name)
            with open(path, 'w') as f:
                json.dump(self.coco if coco is None else coco, f)
            return path

        def modified(self, ann_id: int, **fields) -> dict:
            coco = copy.deepcopy(self.coco)
            ann = next(a for a in coco['annotations'] if a['id'] == ann_id)
            ann.update(fields)
            return coco

        def dataset(self, ann_file: str = None, **kwargs):
            from mmdensekd.datasets import DensePoseCocoDataset
            kwargs.setdefault('data_prefix', dict(img=COCO_TINY))
            kwargs.setdefault('pipeline', [])
            return DensePoseCocoDataset(ann_file=ann_file or self.write(), **kwargs)

    return Helper()


def save_uv_symmetry(path: str, u_tables: np.ndarray, v_tables: np.ndarray) -> str:
    """Write (24, 256, 256) tables with the structure of UV_symmetry_transforms.mat."""
    import scipy.io
    u_cells = np.empty((1, 24), dtype=object)
    v_cells = np.empty((1, 24), dtype=object)
    for p in range(24):
        u_cells[0, p] = u_tables[p]
        v_cells[0, p] = v_tables[p]
    scipy.io.savemat(path, dict(U_transforms=u_cells, V_transforms=v_cells))
    return path


def involutive_uv_tables() -> tuple:
    """Tables with U' = (255 - u) / 255 and V' = v / 255 (a flip twice = identity)."""
    grid_v, grid_u = np.meshgrid(np.arange(256), np.arange(256), indexing='ij')
    u_table = np.repeat(((255 - grid_u) / 255)[None], 24, axis=0)
    v_table = np.repeat((grid_v / 255)[None], 24, axis=0)
    return u_table, v_table


@pytest.fixture
def make_uv_symmetry_file(tmp_path):
    """``fn(u_tables, v_tables, name)`` writing a symmetry file into tmp_path."""

    def make(u_tables, v_tables, name='sym.mat'):
        return save_uv_symmetry(str(tmp_path / name), u_tables, v_tables)

    return make


@pytest.fixture
def uv_symmetry_file(tmp_path):
    """A small symmetry table file whose flip is an involution."""
    return save_uv_symmetry(str(tmp_path / 'UV_symmetry_transforms.mat'),
                            *involutive_uv_tables())
