# Copyright (c) mmdensekd contributors. All rights reserved.
"""Golden-loss regression test of the tiny DensePose + keypoint (+ refine)
R-CNN: seeded parameters, one fixed batch, every loss to 1e-5.

The golden values were computed with the code of commit 033064e (before the
RoI head / chart head split), by running this file as a script with that
commit's package and configs first on the path::

    PYTHONPATH=/tmp/src_head python tests/test_models/test_roi_heads/test_golden_losses.py \
        /tmp/cfg_before/configs

The paper's 0.6 / 0.3 weights moved from ``refine_head`` into the branch
loss configs (``loss_weight``) without changing any value.
"""
import json
import sys
import zlib
from pathlib import Path

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseTargets
from mmdensekd.utils import register_all_modules

CONFIG_ROOT = Path(__file__).resolve().parents[3] / 'configs'
CONFIGS = {
    'joint': 'keypoint_rcnn/densepose-keypoint-rcnn_tiny_cpu_densepose-coco-tiny.py',
    'refine': 'keypoint_rcnn/densepose-keypoint-rcnn_refine-sum_tiny_cpu_densepose-coco-tiny.py',
}

GOLDEN = {
    'joint': {
        'acc': 98.01980590820312,
        'loss_bbox': 0.6451772451400757,
        'loss_cls': 0.40905818343162537,
        'loss_densepose_I': 6.756508827209473,
        'loss_densepose_S': 30.119192123413086,
        'loss_densepose_U': 0.7044159770011902,
        'loss_densepose_V': 0.8392178416252136,
        'loss_keypoint': 13.096047401428223,
        'loss_rpn_bbox.0': 0.0,
        'loss_rpn_bbox.1': 0.3570234179496765,
        'loss_rpn_bbox.2': 0.0,
        'loss_rpn_bbox.3': 0.0,
        'loss_rpn_bbox.4': 0.0,
        'loss_rpn_cls.0': 4.479907512664795,
        'loss_rpn_cls.1': 0.38396286964416504,
        'loss_rpn_cls.2': 0.04510113596916199,
        'loss_rpn_cls.3': 0.013034285046160221,
        'loss_rpn_cls.4': 0.0043374961242079735,
    },
    'refine': {
        'acc': 98.01980590820312,
        'loss_bbox': 0.6451772451400757,
        'loss_cls': 0.40905818343162537,
        'loss_densepose_I': 6.84474515914917,
        'loss_densepose_S': 22.018075942993164,
        'loss_densepose_U': 0.7481801509857178,
        'loss_densepose_V': 0.8866713047027588,
        'loss_keypoint': 5.033231735229492,
        'loss_rpn_bbox.0': 0.0,
        'loss_rpn_bbox.1': 0.3570234179496765,
        'loss_rpn_bbox.2': 0.0,
        'loss_rpn_bbox.3': 0.0,
        'loss_rpn_bbox.4': 0.0,
        'loss_rpn_cls.0': 4.479907512664795,
        'loss_rpn_cls.1': 0.38396286964416504,
        'loss_rpn_cls.2': 0.04510113596916199,
        'loss_rpn_cls.3': 0.013034285046160221,
        'loss_rpn_cls.4': 0.0043374961242079735,
    },
}


def _fill_parameters(model: torch.nn.Module) -> None:
    """Give every parameter seeded values that depend only on its name."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
            noise = torch.randn(param.shape, generator=g)
            if name.endswith('bias'):
                param.copy_(0.01 * noise)
            elif param.dim() == 1:  # norm weights
                param.copy_(1 + 0.1 * noise)
            else:
                fan_in = param[0].numel() if param.dim() > 1 else 1
                param.copy_(noise * (2.0 / fan_in)**0.5)


def _batch():
    """Two 64x96 images with one person each (box, 17 keypoints, DensePose
    points and coarse masks; the second person has no DensePose)."""
    g = torch.Generator().manual_seed(7)
    inputs = torch.randn(2, 3, 64, 96, generator=g)
    samples = []
    boxes = [[10., 6., 50., 58.], [40., 4., 88., 60.]]
    for i, box in enumerate(boxes):
        s = DetDataSample(metainfo=dict(img_shape=(64, 96), ori_shape=(128, 192),
                                        scale_factor=(0.5, 0.5), batch_input_shape=(64, 96),
                                        pad_shape=(64, 96)))
        gt = InstanceData()
        gt.bboxes = torch.tensor([box])
        gt.labels = torch.tensor([0])
        x0, y0, x1, y1 = box
        kpts = torch.rand(1, 17, 2, generator=g)
        kpts[..., 0] = x0 + kpts[..., 0] * (x1 - x0)
        kpts[..., 1] = y0 + kpts[..., 1] * (y1 - y0)
        gt.keypoints = kpts
        gt.keypoints_visible = (torch.rand(1, 17, generator=g) > 0.3).float()
        has_dp = i == 0
        pts = torch.cat([torch.rand(30, 2, generator=g) * 255,
                         torch.randint(1, 25, (30, 1), generator=g).float(),
                         torch.rand(30, 2, generator=g)], dim=1)
        segm = torch.zeros((1, 256, 256), dtype=torch.uint8)
        segm[0, 40:220, 60:200] = torch.randint(1, 15, (1, ), generator=g).to(torch.uint8)
        gt.densepose = DensePoseTargets([pts if has_dp else torch.zeros(0, 5)], segm,
                                        torch.tensor([has_dp]))
        s.gt_instances = gt
        s.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0))
        samples.append(s)
    return inputs, samples


def compute_losses(config: Path) -> dict:
    """Seeded losses of the model of ``config`` on :func:`_batch`."""
    register_all_modules()
    cfg = Config.fromfile(str(config))
    model = MODELS.build(cfg.model)
    _fill_parameters(model)
    model.train()
    inputs, samples = _batch()
    torch.manual_seed(0)
    losses = model.loss(inputs, samples)
    out = {}
    for key, value in sorted(losses.items()):
        if isinstance(value, (list, tuple)):
            for j, v in enumerate(value):
                out[f"{key}.{j}"] = float(v.detach())
        else:
            out[key] = float(value.detach())
    return out


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_golden_losses(name):
    losses = compute_losses(CONFIG_ROOT / CONFIGS[name])
    golden = GOLDEN[name]
    assert sorted(losses) == sorted(golden)
    for key, value in golden.items():
        assert losses[key] == pytest.approx(value, abs=1e-5, rel=1e-5), key


if __name__ == '__main__':
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else CONFIG_ROOT
    print(json.dumps({n: compute_losses(root / c) for n, c in CONFIGS.items()}, indent=1))
