# Copyright (c) mmdensekd contributors. All rights reserved.
"""How much does the CSI say about where the person is? A model-free probe.

For one-person frames of a paired WiFi dataset, every validation frame gets
the mean box of its ``k`` nearest training frames in CSI space (each CSI
element standardised by the training split), once from the amplitude, once
from the phase and once from both, as the config's pipeline feeds them
(``CSIPhaseSanitize`` included). Printed per input: R^2 of the box centre
and size, and the share of validation frames whose box has IoU > 0.5 with
the ground truth (an AP50-like ceiling for a detector that learned only
this), against two baselines that ignore the CSI (the mean training box, a
random training box). Frames with another number of people are counted and
left out.

Usage::

    python tools/analysis/probe_csi_information.py CONFIG \\
        [--train-ann annotations/densepose_train.json] \\
        [--val-ann annotations/densepose_val.json] [--k 3] [--cfg-options ...]

e.g. with the quickstart's student config
(``configs/distill/kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py``).
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from compute_csi_stats import _dataset_from_config, csi_samples  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='a paired WiFi config (its train_dataloader.dataset)')
    p.add_argument('--train-ann', default='annotations/densepose_train.json')
    p.add_argument('--val-ann', default='annotations/densepose_val.json')
    p.add_argument('--k', type=int, default=3, help='neighbours averaged')
    p.add_argument('--seed', type=int, default=0, help='of the random-box baseline')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return p.parse_args(argv)


def split_arrays(cfg: str, ann_file: str,
                 cfg_options: dict) -> Tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(N, D) amplitude, (N, D) phase and (N, 4) xywh boxes of the
    one-person frames of ``ann_file``, and how many frames were left out."""
    dataset = _dataset_from_config(
        cfg, 'train', dict(cfg_options, **{'train_dataloader.dataset.ann_file': ann_file}))
    amps, phases, boxes, skipped = [], [], [], 0
    for i, (amp, phase) in enumerate(csi_samples(dataset)):
        instances = dataset.get_data_info(i)['instances']
        if len(instances) != 1:
            skipped += 1
            continue
        x1, y1, x2, y2 = instances[0]['bbox']
        amps.append(np.ravel(amp))
        phases.append(np.ravel(phase))
        boxes.append([x1, y1, x2 - x1, y2 - y1])
    if not boxes:
        raise ValueError(f'{ann_file}: no frame with exactly one person')
    return np.array(amps), np.array(phases), np.array(boxes, float), skipped


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (N, 4) xywh box arrays."""
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    return inter / (np.prod(a[:, 2:], 1) + np.prod(b[:, 2:], 1) - inter)


def knn_boxes(train_x: np.ndarray, train_boxes: np.ndarray, val_x: np.ndarray,
              k: int) -> np.ndarray:
    """Mean box of the ``k`` nearest training frames (standardised inputs)."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-9
    a, b = (train_x - mean) / std, (val_x - mean) / std
    dist = (b * b).sum(1)[:, None] - 2 * b @ a.T + (a * a).sum(1)[None]
    nearest = np.argsort(dist, axis=1)[:, :k]
    return train_boxes[nearest].mean(1)


def centre_size(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2] + boxes[:, 2:] / 2, boxes[:, 2:]], 1)


def r2(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """R^2 of each column (1: exact, 0: as good as the mean, < 0: worse)."""
    p, t = centre_size(pred), centre_size(true)
    return 1 - ((p - t)**2).sum(0) / ((t - t.mean(0))**2).sum(0)


def probe(train: tuple, val: tuple, k: int, seed: int) -> Dict[str, dict]:
    """Rows of the printed table, by input name."""
    (t_amp, t_ph, t_box), (v_amp, v_ph, v_box) = train, val
    rows = {}
    for name, tx, vx in (('amplitude', t_amp, v_amp), ('phase', t_ph, v_ph),
                         ('amplitude+phase', np.hstack([t_amp, t_ph]),
                          np.hstack([v_amp, v_ph]))):
        pred = knn_boxes(tx, t_box, vx, k)
        rows[f'{k}-NN on {name}'] = dict(r2=r2(pred, v_box), iou50=float(
            (box_iou(pred, v_box) > 0.5).mean()))
    mean_box = np.repeat(t_box.mean(0, keepdims=True), len(v_box), 0)
    rows['mean training box (no CSI)'] = dict(r2=r2(mean_box, v_box), iou50=float(
        (box_iou(mean_box, v_box) > 0.5).mean()))
    rand = t_box[np.random.default_rng(seed).integers(0, len(t_box), len(v_box))]
    rows['random training box (no CSI)'] = dict(r2=r2(rand, v_box), iou50=float(
        (box_iou(rand, v_box) > 0.5).mean()))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    t_amp, t_ph, t_box, t_skip = split_arrays(args.config, args.train_ann, args.cfg_options)
    v_amp, v_ph, v_box, v_skip = split_arrays(args.config, args.val_ann, args.cfg_options)
    print(f'one-person frames: train {len(t_box)} (left out {t_skip}), '
          f'val {len(v_box)} (left out {v_skip})')
    rows = probe((t_amp, t_ph, t_box), (v_amp, v_ph, v_box), args.k, args.seed)
    print(f"{'input':32s} {'R2 cx':>7s} {'R2 cy':>7s} {'R2 w':>7s} {'R2 h':>7s} "
          f"{'IoU>0.5':>8s}")
    for name, row in rows.items():
        print(f'{name:32s} ' + ' '.join(f'{v:7.3f}' for v in row['r2'])
              + f" {row['iou50']:8.2f}")
    return rows


if __name__ == '__main__':
    main()
