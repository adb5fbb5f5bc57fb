# Copyright (c) mmdensekd contributors. All rights reserved.
"""How much does the CSI say about where the person is, and how they stand?
A model-free probe.

For one-person frames of a paired WiFi dataset, every validation frame gets
the mean box and the mean pose of its ``k`` nearest training frames in CSI
space (each CSI element standardised by the training split), once from the
amplitude, once from the phase and once from both, as the config's pipeline
feeds them (``CSIPhaseSanitize`` included). Printed per input: R^2 of the box
centre and size, the share of validation frames whose box has IoU > 0.5 with
the ground truth (an AP50-like ceiling for a detector that learned only
this), and the share whose pose, placed in the true box, has OKS > 0.5 with
the true keypoints (poses are keypoints in box-relative coordinates; OKS
with the COCO sigmas and the annotation's area, as the keypoint AP). The
baselines ignore the CSI: the mean training box / pose, a random training
frame's. Frames with another number of people are counted and left out.

Usage::

    python tools/analysis/probe_csi_information.py CONFIG \\
        [--train-ann annotations/densepose_train.json] \\
        [--val-ann annotations/densepose_val.json] [--k 3] [--cfg-options ...]

e.g. with the quickstart's student config
(``configs/distill/kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py``).
"""
import argparse
import json
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import DictAction

from mmdensekd.datasets.csi_stats import csi_samples
from mmdensekd.datasets.csi_stats import dataset_from_config as _dataset_from_config
from mmdensekd.evaluation.metrics.rcnn_keypoint_metric import COCO_KEYPOINT_SIGMAS


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='a paired WiFi config (its train_dataloader.dataset)')
    p.add_argument('--train-ann', default='annotations/densepose_train.json')
    p.add_argument('--val-ann', default='annotations/densepose_val.json')
    p.add_argument('--k', type=int, default=3, help='neighbours averaged')
    p.add_argument('--seed', type=int, default=0, help='of the random-box baseline')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return p.parse_args(argv)


def split_arrays(cfg: str, ann_file: str, cfg_options: dict) -> Tuple[Dict[str, np.ndarray], int]:
    """Arrays of the one-person frames of ``ann_file`` and how many frames
    were left out: ``amp`` and ``phase`` (N, D), ``box`` (N, 4) xywh,
    ``keypoints`` (N, K, 2), ``visible`` (N, K), ``area`` (N, ) (the
    annotation's, as OKS uses it) and ``pose`` (N, K, 2): the keypoints in
    box-relative coordinates (0..1)."""
    dataset = _dataset_from_config(
        cfg, 'train', dict(cfg_options, **{'train_dataloader.dataset.ann_file': ann_file}))
    with open(dataset.ann_file) as f:
        areas = {a['id']: a.get('area') for a in json.load(f)['annotations']}
    rows: Dict[str, list] = {k: [] for k in ('amp', 'phase', 'box', 'keypoints', 'visible',
                                              'area')}
    skipped = 0
    for i, (amp, phase) in enumerate(csi_samples(dataset)):
        instances = dataset.get_data_info(i)['instances']
        if len(instances) != 1:
            skipped += 1
            continue
        person = instances[0]
        x1, y1, x2, y2 = person['bbox']
        rows['amp'].append(np.ravel(amp))
        rows['phase'].append(np.ravel(phase))
        rows['box'].append([x1, y1, x2 - x1, y2 - y1])
        rows['keypoints'].append(np.reshape(person['keypoints'], (-1, 2)))
        rows['visible'].append(np.ravel(person['keypoints_visible']) > 0)
        area = areas.get(person['ann_id'])
        if not area or area <= 0:  # OKS divides by it
            raise ValueError(f"{dataset.ann_file}: annotation {person['ann_id']} has no "
                             f'positive "area" (the OKS scale), got {area!r}')
        rows['area'].append(float(area))
    if not rows['box']:
        raise ValueError(f'{ann_file}: no frame with exactly one person')
    arrays = {k: np.asarray(v, float if k != 'visible' else bool) for k, v in rows.items()}
    box = arrays['box']
    arrays['pose'] = (arrays['keypoints'] - box[:, None, :2]) / box[:, None, 2:]
    return arrays, skipped


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (N, 4) xywh box arrays."""
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    return inter / (np.prod(a[:, 2:], 1) + np.prod(b[:, 2:], 1) - inter)


def knn_mean(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
             k: int) -> np.ndarray:
    """Mean of ``train_y`` over the ``k`` nearest training frames of each
    validation frame (inputs standardised by the training split)."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-9
    a, b = (train_x - mean) / std, (val_x - mean) / std
    dist = (b * b).sum(1)[:, None] - 2 * b @ a.T + (a * a).sum(1)[None]
    nearest = np.argsort(dist, axis=1)[:, :k]
    return train_y[nearest].mean(1)


def oks(pose: np.ndarray, val: Dict[str, np.ndarray]) -> np.ndarray:
    """OKS of box-relative ``pose`` (N, K, 2), placed in the true boxes, with
    the true keypoints (visible ones), per frame."""
    box = val['box']
    pred = pose * box[:, None, 2:] + box[:, None, :2]
    d2 = ((pred - val['keypoints'])**2).sum(-1)
    e = np.exp(-d2 / (2 * val['area'][:, None] * (2 * COCO_KEYPOINT_SIGMAS[None])**2))
    vis = val['visible']
    return (e * vis).sum(1) / np.maximum(vis.sum(1), 1)


def centre_size(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2] + boxes[:, 2:] / 2, boxes[:, 2:]], 1)


def r2(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """R^2 of each column (1: exact, 0: as good as the mean, < 0: worse)."""
    p, t = centre_size(pred), centre_size(true)
    return 1 - ((p - t)**2).sum(0) / ((t - t.mean(0))**2).sum(0)


def probe(train: Dict[str, np.ndarray], val: Dict[str, np.ndarray], k: int,
          seed: int) -> Dict[str, dict]:
    """Rows of the printed table, by input name: ``r2`` (4, ), ``iou50``
    and ``oks50`` (shares of validation frames)."""

    def row(box: np.ndarray, pose: np.ndarray) -> dict:
        return dict(r2=r2(box, val['box']), iou50=float((box_iou(box, val['box']) > 0.5).mean()),
                    oks50=float((oks(pose, val) > 0.5).mean()))

    rows = {}
    for name, keys in (('amplitude', ('amp', )), ('phase', ('phase', )),
                       ('amplitude+phase', ('amp', 'phase'))):
        tx = np.hstack([train[key] for key in keys])
        vx = np.hstack([val[key] for key in keys])
        rows[f'{k}-NN on {name}'] = row(knn_mean(tx, train['box'], vx, k),
                                        knn_mean(tx, train['pose'], vx, k))
    n = len(val['box'])
    rows['mean training frame (no CSI)'] = row(
        np.repeat(train['box'].mean(0, keepdims=True), n, 0),
        np.repeat(train['pose'].mean(0, keepdims=True), n, 0))
    pick = np.random.default_rng(seed).integers(0, len(train['box']), n)
    rows['random training frame (no CSI)'] = row(train['box'][pick], train['pose'][pick])
    return rows


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    train, t_skip = split_arrays(args.config, args.train_ann, args.cfg_options)
    val, v_skip = split_arrays(args.config, args.val_ann, args.cfg_options)
    print(f"one-person frames: train {len(train['box'])} (left out {t_skip}), "
          f"val {len(val['box'])} (left out {v_skip})")
    rows = probe(train, val, args.k, args.seed)
    print(f"{'input':32s} {'R2 cx':>7s} {'R2 cy':>7s} {'R2 w':>7s} {'R2 h':>7s} "
          f"{'IoU>0.5':>8s} {'OKS>0.5':>8s}")
    print(f"{'':32s} {'':>7s} {'':>7s} {'':>7s} {'':>7s} {'':>8s} {'(in box)':>8s}")
    for name, row in rows.items():
        print(f'{name:32s} ' + ' '.join(f'{v:7.3f}' for v in row['r2'])
              + f" {row['iou50']:8.2f} {row['oks50']:8.2f}")
    return rows


if __name__ == '__main__':
    main()
