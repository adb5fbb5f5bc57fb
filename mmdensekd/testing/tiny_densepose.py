# Copyright (c) mmdensekd contributors. All rights reserved.
"""Build the tiny real-image DensePose-COCO set used by the README and tests.

Inputs (shipped in ``tests/data``): the 4 COCO val2017 images and person
keypoint annotations of ``coco_tiny/`` and the real DensePose R-CNN
predictions of ``densepose_real/example_results.json``. The prediction on
image 785 is converted (:mod:`mmdensekd.datasets.iuv_conversion`) and merged into
the matching ground-truth person, which keeps its real keypoints, box and
polygon; the other 13 persons have no dp fields (they train boxes and
keypoints only).

Output layout::

    OUT_DIR/images/000000000785.jpg ...
    OUT_DIR/annotations/densepose_tiny_train.json
    OUT_DIR/annotations/densepose_tiny_val.json   (same content)
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict

from mmdensekd.datasets.iuv_conversion import load_challenge_results, merge_instances_into_coco
from mmdensekd.utils.misc import atomic_write_text

__all__ = ['build_tiny_densepose_coco', 'TINY_SPLITS']

TINY_SPLITS = ('densepose_tiny_train.json', 'densepose_tiny_val.json')


def _write_json_if_changed(path: str, data: dict) -> bool:
    text = json.dumps(data, separators=(',', ':'))
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            if f.read() == text:
                return False
    atomic_write_text(path, text)
    return True


def build_tiny_densepose_coco(out_dir: str,
                              coco_dir: str,
                              results_file: str,
                              num_points: int = 100,
                              seed: int = 0,
                              iou_thr: float = 0.5) -> Dict[str, object]:
    """Build (or refresh) the tiny DensePose-COCO set in ``out_dir``.

    Idempotent: images are copied only when missing or of a different size,
    JSON files are rewritten only when their content would change.

    Args:
        out_dir (str): Output directory.
        coco_dir (str): Folder with ``test_coco.json`` and its images.
        results_file (str): DensePose challenge results JSON.
        num_points (int): Approximate points per converted instance.
        seed (int): Point-sampling seed.
        iou_thr (float): IoU for matching predictions to ground truth.

    Returns:
        dict: ``ann_files`` (paths), ``img_dir``, ``num_images``,
        ``num_dp_instances``, ``changed`` (files written this call).

    Raises:
        FileNotFoundError: a missing input, naming it.
        RuntimeError: no prediction matched any ground-truth person.
    """
    ann_in = osp.join(coco_dir, 'test_coco.json')
    for path in (ann_in, results_file):
        if not osp.isfile(path):
            raise FileNotFoundError(f'tiny DensePose set: input {path} not found')
    with open(ann_in, encoding='utf-8') as f:
        coco = json.load(f)
    image_ids = {img['id'] for img in coco['images']}
    instances = [i for i in load_challenge_results(results_file) if i['image_id'] in image_ids]
    merged, stats = merge_instances_into_coco(coco, instances, iou_thr=iou_thr,
                                              num_points=num_points, seed=seed)
    if stats['matched'] == 0:
        raise RuntimeError(f'tiny DensePose set: no prediction of {results_file} matched a '
                           f'ground-truth person of {ann_in} with IoU >= {iou_thr}')
    merged['info'] = dict(
        merged.get('info') or {},
        description='mmdensekd tiny DensePose-COCO set: COCO val2017 persons (CC BY 4.0) '
        'with dp fields converted from DensePose R-CNN predictions '
        '(facebookresearch/DensePose example_results.json, CC BY-NC 4.0)')

    img_dir = osp.join(out_dir, 'images')
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    changed = []
    for img in merged['images']:
        src = osp.join(coco_dir, img['file_name'])
        dst = osp.join(img_dir, img['file_name'])
        if not osp.isfile(src):
            raise FileNotFoundError(f'tiny DensePose set: image {src} (id {img["id"]}) '
                                    'not found')
        if not osp.isfile(dst) or osp.getsize(dst) != osp.getsize(src):
            shutil.copyfile(src, dst)
            changed.append(dst)
    ann_files = []
    for name in TINY_SPLITS:
        path = osp.join(ann_dir, name)
        if _write_json_if_changed(path, merged):
            changed.append(path)
        ann_files.append(path)
    num_dp = sum('dp_x' in a for a in merged['annotations'])
    return dict(ann_files=ann_files, img_dir=img_dir, num_images=len(merged['images']),
                num_dp_instances=num_dp, changed=changed)
