# Copyright (c) mmdensekd contributors. All rights reserved.
"""How much pose does a world's CSI hold? A learned information probe.

Beside the model-free k-NN probe (``probe_csi_information.py``): a small
supervised model goes straight from the CSI of a one-person frame to the
person's box-relative pose (17 keypoints in 0..1 box coordinates) and coarse
part map (the 14 DensePose parts on a ``--grid`` x ``--grid`` box-relative
grid, background included). Inputs are the standardised log amplitude and
sanitised phase (``CSIPhaseSanitize`` with the ``meta.json`` arguments) of
the generated dataset, each element standardised by the training split.
Models: ridge regression (closed form, the penalty picked on a fifth of the
training split held out) and, with ``--models ridge mlp``, a small MLP
(torch, two hidden layers on 256 principal components, early stopped on the
same held-out fifth). Each is also trained on shuffled CSI
(every training frame paired with another frame's CSI): the same model with
no information, the floor.

Printed per model, on the val split (the pose placed in the true box):

* ``OKS>0.5``: share of val frames whose pose has OKS > 0.5 with the true
  keypoints (COCO sigmas, the annotation's area, as keypoint AP);
* ``PCK@0.2``: share of labelled keypoints within 0.2 torso diameters
  (left shoulder to right hip, as Person-in-WiFi's PCK; 0.4 box heights when
  either is unlabelled) of the truth;
* ``part IoU``: mean over the 14 parts of the val-set IoU of the predicted
  part map (argmax per grid cell) with the true one.

The mean training pose / part map (no CSI) is the baseline row.

Where and how: the same models also regress the person's box (centre and
log size), so each row also gives the box and keypoints from the CSI alone,
as a student's: ``IoU>0.5`` / ``IoU>0.75`` of the CSI box with the true one
and ``kpt AP*``, the mean over OKS thresholds 0.50:0.95 of the share of val
frames above the threshold with the pose placed in the CSI box (COCO
keypoint AP of one detection per one-person image when the scores rank the
hits first: an upper bound of the AP of those detections). Beside it, two
decompositions of keypoint AP with the CSI box: ``true pose`` (the exact
box-relative pose of the frame: what perfect pose knowledge would give at
the box precision the CSI holds) and ``mean pose`` (the template). When
``true pose`` is far below the teacher's keypoint AP, box precision, not
pose, bounds what any student can reach.

Usage::

    python tools/analysis/probe_csi_pose.py DATA_DIR [--train-split train]
        [--val-split val] [--models ridge [mlp]] [--features raw|doppler|both] [--grid 8]
        [--seed 0] [--out probe.json]

Features (``--features``): ``raw`` (the above), ``doppler`` or ``both``.
``doppler`` is the motion of the body seen over the packets, the WiFi
sensing feature activity recognition uses: per link and transmit antenna,
the conjugate product of every pair of receive antennas (the per-packet
phase offset and slope of the receiver cancel in it), its per-window mean
over the packets removed (the static paths), the power spectrum over the
window's packets (Doppler bins), averaged over groups of 10 subcarriers, in
log; plus the log standard deviation of the amplitude over each window's
packets. ``both`` concatenates raw and doppler.

In a sequence world (images carry ``activity``) two more figures: the
activity-conditioned mean pose (the mean training pose of the frame's true
activity: what recognising the activity alone would give, an oracle), and
the val accuracy of a ridge classifier of the activity from the features,
against the same on shuffled CSI and the majority class.

``DATA_DIR`` is a dataset of ``make_synthetic_wifi_densepose.py`` (its
``meta.json`` gives the CSI layout). About 1 to 2 minutes on a 2-core CPU for
2,000 training frames.
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils
from scipy.io import loadmat

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from probe_csi_information import oks  # noqa: E402

#: Coarse DensePose parts.
NUM_PARTS = 14
#: COCO ids of the left shoulder and right hip (the torso diameter).
L_SHOULDER, R_HIP = 5, 12


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('data_dir', help='a generated paired dataset (with meta.json)')
    p.add_argument('--train-split', default='train')
    p.add_argument('--val-split', default='val')
    p.add_argument('--models', nargs='+', default=['ridge'], choices=['ridge', 'mlp'],
                   help='ridge (seconds) and / or a small MLP (minutes)')
    p.add_argument('--grid', type=int, default=8, help='part-map cells per box side')
    p.add_argument('--windows', type=int, default=0, help='keep only the last this many '
                   'temporal windows of the CSI (0: all)')
    p.add_argument('--features', default='raw', choices=['raw', 'doppler', 'both'],
                   help='raw log amplitude and phase, Doppler spectra of antenna-pair '
                   'products, or both (see above)')
    p.add_argument('--max-train', type=int, default=0, help='use at most this many '
                   'training frames (0: all)')
    p.add_argument('--seed', type=int, default=0, help='shuffle, hold-out and MLP seed')
    p.add_argument('--out', default=None, help='write the rows as json here')
    return p.parse_args(argv)


# ------------------------------------------------------------------ data
def part_grid(dp_masks: List, grid: int) -> np.ndarray:
    """(grid, grid, 15) share of each label (0 = background) per cell of the
    256x256 box frame of DensePose-COCO ``dp_masks`` (14 RLEs or ``[]``)."""
    labels = np.zeros((256, 256), np.int64)
    for c, rle in enumerate(dp_masks):
        if rle:
            labels[mask_utils.decode(rle) > 0] = c + 1
    if 256 % grid:
        raise ValueError(f'--grid must divide 256, got {grid}')
    s = 256 // grid
    cell = (np.arange(256) // s)[:, None] * grid + (np.arange(256) // s)[None]
    counts = np.bincount((cell * (NUM_PARTS + 1) + labels).ravel(),
                         minlength=grid * grid * (NUM_PARTS + 1))
    return counts.reshape(grid, grid, NUM_PARTS + 1) / float(s * s)


def load_split(data_dir: str, split: str, grid: int,
               features: Callable[[np.ndarray, np.ndarray], np.ndarray]
               ) -> Tuple[Dict[str, np.ndarray], int]:
    """Arrays of the one-person frames of ``split`` and how many frames were
    left out (another number of people, or a person without DensePose
    masks): ``x`` (N, D) raw features (log amplitude, sanitised phase),
    ``box`` (N, 4) xywh, ``keypoints`` (N, 17, 2), ``visible`` (N, 17),
    ``area`` (N,), ``pose`` (N, 17, 2) box-relative, ``parts`` (N, G, G, 15)
    and, in a sequence world, ``activity`` (N,) names."""
    ann_file = osp.join(data_dir, 'annotations', f'densepose_{split}.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file} does not exist (split {split!r} of {data_dir})')
    with open(ann_file) as f:
        coco = json.load(f)
    by_image: Dict[int, list] = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    rows: Dict[str, list] = {k: [] for k in ('x', 'box', 'keypoints', 'visible', 'area',
                                              'parts', 'activity')}
    skipped = 0
    for img in coco['images']:
        anns = by_image.get(img['id'], [])
        if len(anns) != 1 or anns[0].get('iscrowd') or not anns[0].get('dp_masks'):
            skipped += 1
            continue
        ann = anns[0]
        path = osp.join(data_dir, img['csi_file'])
        try:
            mat = loadmat(path)
            amp, phase = mat['CSIamp'], mat['CSIphase']
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f'{path}: cannot read CSIamp / CSIphase ({err})') from err
        rows['x'].append(features(amp, phase))
        rows['box'].append(ann['bbox'])
        kpt = np.reshape(ann['keypoints'], (-1, 3))
        rows['keypoints'].append(kpt[:, :2])
        rows['visible'].append(kpt[:, 2] > 0)
        if not ann.get('area', 0) > 0:
            raise ValueError(f"{ann_file}: annotation {ann['id']} has no positive area")
        if not (len(ann['bbox']) == 4 and ann['bbox'][2] > 0 and ann['bbox'][3] > 0):
            # the pose is relative to the box and its size is regressed as a log
            raise ValueError(f"{ann_file}: annotation {ann['id']} has bbox {ann['bbox']}, "
                             'not x, y and a positive width and height')
        rows['area'].append(float(ann['area']))
        rows['parts'].append(part_grid(ann['dp_masks'], grid))
        rows['activity'].append(img.get('activity'))
    if not rows['x']:
        raise ValueError(f'{ann_file}: no frame with exactly one person')
    activity = rows.pop('activity')
    out = {k: np.asarray(v, bool if k == 'visible' else np.float64) for k, v in rows.items()}
    if all(isinstance(a, str) for a in activity):
        out['activity'] = np.asarray(activity)
    box = out['box']
    out['pose'] = (out['keypoints'] - box[:, None, :2]) / box[:, None, 2:]
    return out, skipped


# --------------------------------------------------------------- metrics
def pck(pose: np.ndarray, data: Dict[str, np.ndarray], thr: float = 0.2) -> float:
    """Share of labelled keypoints of box-relative ``pose`` (placed in the
    true boxes) within ``thr`` torso diameters of the truth."""
    box = data['box']
    pred = pose * box[:, None, 2:] + box[:, None, :2]
    kp, vis = data['keypoints'], data['visible']
    torso = np.linalg.norm(kp[:, L_SHOULDER] - kp[:, R_HIP], axis=-1)
    both = vis[:, L_SHOULDER] & vis[:, R_HIP]
    torso = np.where(both, torso, 0.4 * box[:, 3])
    hit = np.linalg.norm(pred - kp, axis=-1) < thr * torso[:, None]
    return float((hit & vis).sum() / max(vis.sum(), 1))


def part_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over the 14 parts of the IoU of (N, G, G) label maps (parts
    absent from both are left out)."""
    ious = []
    for c in range(1, NUM_PARTS + 1):
        p, t = pred == c, true == c
        union = (p | t).sum()
        if union:
            ious.append((p & t).sum() / union)
    return float(np.mean(ious)) if ious else 0.0


#: OKS thresholds of COCO keypoint AP.
OKS_THRS = np.linspace(0.5, 0.95, 10)


def box_code(box: np.ndarray) -> np.ndarray:
    """(N, 4) xywh boxes -> centre and log size (the regression target)."""
    return np.concatenate([box[:, :2] + box[:, 2:] / 2, np.log(box[:, 2:])], 1)


def box_decode(code: np.ndarray) -> np.ndarray:
    """Inverse of :func:`box_code`."""
    wh = np.exp(code[:, 2:])
    return np.concatenate([code[:, :2] - wh / 2, wh], 1)


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xywh boxes ``a[i]`` and ``b[i]``."""
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), 1)
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def kpt_ap_bound(pose: np.ndarray, box: np.ndarray, val: Dict[str, np.ndarray]) -> float:
    """Mean over :data:`OKS_THRS` of the share of frames whose box-relative
    ``pose`` placed in ``box`` has OKS above the threshold."""
    o = oks(pose, dict(val, box=box))
    return float(np.mean([(o > t).mean() for t in OKS_THRS]))


def scores(pose: np.ndarray, parts: np.ndarray, val: Dict[str, np.ndarray],
           box: Optional[np.ndarray] = None, mean_pose: Optional[np.ndarray] = None) -> dict:
    """``oks50``, ``pck02``, ``part_iou`` of predictions on ``val`` (pose in
    the true box); with a predicted ``box`` also ``iou50``, ``iou75``,
    ``kpt_ap`` (pose in that box), ``kpt_ap_true_pose`` and, given the
    ``mean_pose`` (K, 2), ``kpt_ap_mean_pose`` (see the module docstring)."""
    out = dict(oks50=float((oks(pose, val) > 0.5).mean()), pck02=pck(pose, val),
               part_iou=part_iou(parts.argmax(-1), val['parts'].argmax(-1)))
    if box is not None:
        iou = pair_iou(box, val['box'])
        out.update(iou50=float((iou > 0.5).mean()), iou75=float((iou > 0.75).mean()),
                   kpt_ap=kpt_ap_bound(pose, box, val),
                   kpt_ap_true_pose=kpt_ap_bound(val['pose'], box, val))
        if mean_pose is not None:
            out['kpt_ap_mean_pose'] = kpt_ap_bound(
                np.repeat(mean_pose[None], len(box), 0), box, val)
    return out


# ---------------------------------------------------------------- models
class Ridge:
    """Ridge regression in dual form for several penalties at once (one
    eigendecomposition of the Gram matrix of standardised ``x``; ``y``
    centred)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.ym = x, y.mean(0)
        self.s, self.u = np.linalg.eigh(x @ x.T)
        self.uy = self.u.T @ (y - self.ym)

    def predictor(self, alpha: float) -> Callable[[np.ndarray], np.ndarray]:
        """The predictor of penalty ``alpha``."""
        coef = self.u @ (self.uy / (np.maximum(self.s, 0) + alpha)[:, None])
        return lambda z: (z @ self.x.T) @ coef + self.ym


def ridge_model(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                alphas: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0)):
    """Ridge with the penalty (times the feature count) that fits a held-out
    fifth of the training frames best, refit on all of them."""
    n, d = x.shape
    order = rng.permutation(n)
    hold, fit = order[:n // 5], order[n // 5:]
    part = Ridge(x[fit], y[fit])
    errs = [float(((part.predictor(a * d)(x[hold]) - y[hold])**2).mean()) for a in alphas]
    return Ridge(x, y).predictor(alphas[int(np.argmin(errs))] * d)


def mlp_model(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, hidden: int = 128,
              epochs: int = 200, components: int = 256):
    """A two-hidden-layer MLP (dropout, AdamW, full batch) on the first
    ``components`` principal components of ``x``, early stopped on a
    held-out fifth of the training frames."""
    import torch
    torch.manual_seed(int(rng.integers(2**31)))
    project = None
    if x.shape[1] > components:  # PCA through the Gram matrix (N x N)
        s, u = np.linalg.eigh(x @ x.T)
        top = np.argsort(s)[::-1][:components]
        basis = x.T @ (u[:, top] / np.sqrt(np.maximum(s[top], 1e-9)))  # (D, C) unit columns
        scale = np.sqrt(np.maximum(s[top], 1e-9) / len(x))  # component std

        def project(z: np.ndarray) -> np.ndarray:
            return z @ basis / scale

        x = project(x)
    n, d = x.shape
    order = rng.permutation(n)
    hold, fit = order[:n // 5], order[n // 5:]
    ym, ys = y.mean(0), y.std(0) + 1e-6
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor((y - ym) / ys, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(d, hidden),
                              torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, y.shape[1]))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    best, best_state = np.inf, None
    for epoch in range(epochs):
        net.train()
        opt.zero_grad()
        loss = ((net(xt[fit]) - yt[fit])**2).mean()
        loss.backward()
        opt.step()
        if epoch % 10 == 9:
            net.eval()
            with torch.no_grad():
                err = float(((net(xt[hold]) - yt[hold])**2).mean())
            if err < best:
                best, best_state = err, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    net.eval()

    def predict(z: np.ndarray) -> np.ndarray:
        if project is not None:
            z = project(z)
        with torch.no_grad():
            out = net(torch.as_tensor(z, dtype=torch.float32)).numpy()
        return out * ys + ym

    return predict


MODELS = dict(ridge=ridge_model, mlp=mlp_model)


def standardise(train_x: np.ndarray, val_x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Both feature sets, each element standardised by the training set."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    return (train_x - mean) / std, (val_x - mean) / std


def probe(train: Dict[str, np.ndarray], val: Dict[str, np.ndarray],
          models: Sequence[str] = ('ridge', 'mlp'), seed: int = 0) -> Dict[str, dict]:
    """Rows of the printed table, by name: ``oks50``, ``pck02`` and
    ``part_iou`` on ``val`` of each model trained on the CSI, of the same
    model trained on shuffled CSI, and of the mean training pose / parts.

    ``train`` / ``val`` need ``x`` (N, D) and the targets of
    :func:`load_split` (``pose``, ``parts``, ``box``, ``keypoints``,
    ``visible``, ``area``).
    """
    tx, vx = standardise(train['x'], val['x'])
    n, k = len(tx), train['pose'].shape[1]
    g = train['parts'].shape[1:]
    y = np.hstack([train['pose'].reshape(n, -1), train['parts'].reshape(n, -1),
                   box_code(train['box'])])
    mean_pose = train['pose'].mean(0)
    rows = {}
    for name in models:
        for label, inputs in (('CSI', tx), ('shuffled CSI', tx[np.random.default_rng(
                [seed, 1]).permutation(n)])):
            predict = MODELS[name](inputs, y, np.random.default_rng([seed, 2]))
            out = predict(vx)
            rows[f'{name} on {label}'] = scores(out[:, :2 * k].reshape(-1, k, 2),
                                                out[:, 2 * k:-4].reshape((-1, ) + g), val,
                                                box_decode(out[:, -4:]), mean_pose)
    m = len(vx)
    mean_box = np.repeat(box_decode(box_code(train['box']).mean(0, keepdims=True)), m, 0)
    rows['mean training pose (no CSI)'] = scores(
        np.repeat(mean_pose[None], m, 0),
        np.repeat(train['parts'].mean(0, keepdims=True), m, 0), val, mean_box, mean_pose)
    return rows


def activity_probe(train: Dict[str, np.ndarray], val: Dict[str, np.ndarray],
                   seed: int = 0) -> Dict[str, float]:
    """What recognising the activity gives and how well the features
    recognise it (sequence worlds; ``train`` / ``val`` with ``activity``).

    Returns:
        dict: ``oracle`` (:func:`scores` of the mean training pose and part
        map of each val frame's true activity, in the true box),
        ``accuracy`` / ``shuffled_accuracy`` of a ridge classifier (one-hot
        targets, argmax) on the CSI / shuffled CSI, ``majority`` (the most
        frequent training activity's share of val).
    """
    names = sorted(set(train['activity']))
    ty = np.array([names.index(a) for a in train['activity']])
    vy = np.array([names.index(a) if a in names else -1 for a in val['activity']])
    pose = np.stack([train['pose'][ty == i].mean(0) for i in range(len(names))])
    parts = np.stack([train['parts'][ty == i].mean(0) for i in range(len(names))])
    known = vy >= 0
    mean_pose, mean_parts = train['pose'].mean(0), train['parts'].mean(0)
    oracle = scores(np.where(known[:, None, None], pose[vy], mean_pose),
                    np.where(known[:, None, None, None], parts[vy], mean_parts), val)
    tx, vx = standardise(train['x'], val['x'])
    onehot = np.eye(len(names))[ty]
    acc = {}
    for label, inputs in (('accuracy', tx), ('shuffled_accuracy', tx[np.random.default_rng(
            [seed, 1]).permutation(len(tx))])):
        predict = ridge_model(inputs, onehot, np.random.default_rng([seed, 2]))
        acc[label] = float((predict(vx).argmax(1) == vy).mean())
    return dict(oracle=oracle, majority=float((vy == np.bincount(ty).argmax()).mean()), **acc)


def _per_letter(meta: dict):
    """The dataset's layout and the shape that gives each of its axis
    letters its own axis."""
    from mmdensekd.structures.csi_layout import CSI_LAYOUTS
    layout = CSI_LAYOUTS[meta['csi']['layout']]
    return layout, tuple(layout.sizes[c] for c in layout.letters)


def doppler_featurizer(meta: dict) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Doppler features of one frame (see the module docstring): the log
    power spectra over each window's packets of the receive-antenna pair
    products, per 10-subcarrier group, and the log amplitude spread over the
    packets.

    Args:
        meta (dict): The dataset's ``meta.json``.
    """
    layout, _ = _per_letter(meta)
    windows = int(meta['csi'].get('windows', 1))
    if layout.sizes['r'] < 2 or layout.num_packets // windows < 2:
        raise ValueError(f"--features doppler needs 2 or more receive antennas and packets per "
                         f"window; layout {layout.name!r} has {layout.sizes['r']} and "
                         f'{layout.num_packets // windows}')
    pairs = [(i, j) for i in range(layout.sizes['r']) for j in range(i + 1, layout.sizes['r'])]
    groups = np.array_split(np.arange(layout.sizes['s']), max(1, layout.sizes['s'] // 10))

    def canonical(arr: np.ndarray) -> np.ndarray:
        """(l, t, windows, packets per window, s, r)."""
        arr = layout.from_file(np.reshape(np.asarray(arr, np.float64), layout.shape))
        l, p, k, t, r = arr.shape
        return arr.transpose(0, 3, 1, 2, 4).reshape(l, t, windows, p // windows, k, r)

    def group_mean(arr: np.ndarray) -> np.ndarray:  # over subcarrier groups (axis 4)
        return np.stack([arr[:, :, :, :, g].mean(4) for g in groups], 4)

    def run(amp: np.ndarray, phase: np.ndarray) -> np.ndarray:
        amp = canonical(amp)
        h = amp * np.exp(1j * canonical(phase))
        prod = np.stack([h[..., i] * np.conj(h[..., j]) for i, j in pairs], -1)
        prod = prod - prod.mean(3, keepdims=True)
        power = np.abs(np.fft.fft(prod, axis=3))**2
        spread = amp.std(3)
        return np.concatenate([np.log(group_mean(power) + 1e-3).ravel(),
                               np.log(group_mean(spread[:, :, :, None])[:, :, :, 0] + 1e-3)
                               .ravel()])

    return run


def featurizer(meta: dict, windows: int = 0) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Features of one frame of a dataset of ``meta.json``: log amplitude and
    sanitised phase (``CSIPhaseSanitize`` as its pipeline), flattened.

    Args:
        meta (dict): The dataset's ``meta.json``.
        windows (int): Keep only the last this many temporal windows (the
            same frames seen with less temporal context: the last window is
            exactly the single-window CSI); 0 = all.
    """
    from mmdensekd.datasets.transforms import CSIPhaseSanitize
    layout, view = _per_letter(meta)
    have = int(meta['csi'].get('windows', 1))
    if not 0 <= windows <= have:
        raise ValueError(f"--windows {windows}: the data of {meta['csi']['layout']!r} has "
                         f'{have} windows')
    keep = layout.num_packets if windows in (0, have) else \
        layout.num_packets // have * windows
    p_axis = layout.letters.index('p') if 'p' in layout.letters else None
    kept = layout.with_packets(keep)
    kwargs = kept.sanitize_kwargs()
    kwargs['view_shape'] = None  # phases arrive in the per-letter view

    san = CSIPhaseSanitize(**kwargs)

    def run(amp: np.ndarray, phase: np.ndarray) -> np.ndarray:
        out = []
        for arr, is_phase in ((amp, False), (phase, True)):
            arr = np.asarray(arr, np.float64).reshape(view)
            if p_axis is not None and keep != layout.num_packets:
                arr = np.take(arr, np.arange(layout.num_packets - keep, layout.num_packets),
                              axis=p_axis)
            out.append((san.sanitize(arr) if is_phase else np.log(arr + 1e-6)).ravel())
        return np.concatenate(out)

    return run


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    meta_file = osp.join(args.data_dir, 'meta.json')
    if not osp.isfile(meta_file):
        raise FileNotFoundError(f'{meta_file} does not exist: not a generated dataset')
    with open(meta_file) as f:
        meta = json.load(f)
    start = time.time()
    feat = featurizer(meta, args.windows)
    if args.features != 'raw':
        if args.windows:
            raise SystemExit('--windows applies to the raw features only')
        dop = doppler_featurizer(meta)
        feat = dop if args.features == 'doppler' else (
            lambda amp, phase, raw=feat: np.concatenate([raw(amp, phase), dop(amp, phase)]))
    train, t_skip = load_split(args.data_dir, args.train_split, args.grid, feat)
    val, v_skip = load_split(args.data_dir, args.val_split, args.grid, feat)
    if args.max_train and len(train['x']) > args.max_train:
        train = {k: v[:args.max_train] for k, v in train.items()}
    opts = meta.get('options', {})
    print(f"{args.data_dir}: sensing {opts.get('sensing', meta['csi']['layout'])}, CSI "
          f"{meta['csi']['shape']} (windows kept: {args.windows or 'all'}), sequences of "
          f"{opts.get('sequence_frames', 0)} frames; "
          f"one-person frames: train {len(train['x'])} (left out {t_skip}), val "
          f"{len(val['x'])} (left out {v_skip}); loaded in {time.time() - start:.0f}s")
    rows = probe(train, val, args.models, args.seed)
    print('pose in the true box | box from the CSI | keypoint AP* with the CSI box: '
          'predicted / true / mean pose')
    print(f"{'model':32s} {'OKS>0.5':>8s} {'PCK@0.2':>8s} {'part IoU':>9s} {'IoU>0.5':>8s} "
          f"{'IoU>0.75':>8s} {'kptAP*':>7s} {'true':>6s} {'mean':>6s}")
    for name, row in rows.items():
        print(f"{name:32s} {row['oks50']:8.3f} {row['pck02']:8.3f} {row['part_iou']:9.3f} "
              f"{row['iou50']:8.3f} {row['iou75']:8.3f} {row['kpt_ap']:7.3f} "
              f"{row['kpt_ap_true_pose']:6.3f} {row['kpt_ap_mean_pose']:6.3f}")
    activity = None
    if 'activity' in train and 'activity' in val:
        activity = activity_probe(train, val, args.seed)
        o = activity['oracle']
        print(f"{'activity-conditioned mean pose':32s} {o['oks50']:8.3f} {o['pck02']:8.3f} "
              f"{o['part_iou']:9.3f}   (oracle: the true activity's mean training pose)")
        print(f"activity from the CSI (ridge classifier, {len(set(train['activity']))} "
              f"activities): val accuracy {activity['accuracy']:.3f}, on shuffled CSI "
              f"{activity['shuffled_accuracy']:.3f}, majority class {activity['majority']:.3f}")
    print(f'({time.time() - start:.0f}s)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(data_dir=args.data_dir, options=opts, csi=meta['csi'],
                           features=args.features,
                           windows_kept=args.windows or int(meta['csi'].get('windows', 1)),
                           num_train=len(train['x']), num_val=len(val['x']), rows=rows,
                           activity=activity), f, indent=2)
    return rows


if __name__ == '__main__':
    main()
