# Copyright (c) mmdensekd contributors. All rights reserved.
"""Compare the DensePose chart decodings of a trained model: detectron2's
per-pixel IUV (the default, ``decoding='detectron2'``) against the fast one
(``decoding='fast'``), and time both.

    python tools/analysis/densepose_decoding_agreement.py CONFIG CHECKPOINT \
        [--num-dets 20] [--repeats 5] [--device cpu] [--max-images 8]

For each test image of the config (up to ``--max-images``) the model runs
once with up to ``--num-dets`` detections (score threshold 0); the chart
predictor's outputs on those boxes (caught by a forward hook) are decoded
both ways. Printed:

* label agreement: the fraction of box pixels with the same part label
  (all boxes pooled), the worst box's fraction, and the mean |U - U'|,
  |V - V'| on pixels both call foreground; and the agreement of the
  vectorised detectron2-style labels with detectron2's own per-box loop;
* timing at ``--num-dets`` detections: the median over ``--repeats`` of the
  detectron2-style decoding, the fast one and a one-box-at-a-time
  ``F.interpolate`` reference (detectron2's own loop), all on the same
  outputs in one run.
"""
import argparse
import statistics
import time
from typing import Callable, List

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmdensekd.apis import init_model
from mmdensekd.models.heads import DensePoseChartHead, decode_charts_to_boxes


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-dets', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--max-images', type=int, default=8)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def per_box_reference(dp_output, boxes: torch.Tensor):
    """detectron2's loop: each box's maps resized with ``F.interpolate``."""
    labels, uvs = [], []
    for i, box in enumerate(boxes):
        h, w = max(int(box[3] - box[1]), 1), max(int(box[2] - box[0]), 1)

        def up(x):
            return F.interpolate(x[i:i + 1], (h, w), mode='bilinear', align_corners=False)[0]

        lab = up(dp_output.fine_segm).argmax(0) * (up(dp_output.coarse_segm).argmax(0) > 0)
        uv = torch.stack([up(dp_output.u).gather(0, lab[None])[0],
                          up(dp_output.v).gather(0, lab[None])[0]])
        labels.append(lab)
        uvs.append(uv * (lab > 0))
    return labels, uvs


def timed(fn: Callable, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    cfg.model.test_cfg.rcnn.max_per_img = args.num_dets
    model = init_model(cfg, args.checkpoint, device=args.device)
    head = model.roi_head.densepose_predictor
    if not isinstance(head, DensePoseChartHead):
        raise TypeError(f'{args.config}: the DensePose predictor is {type(head).__name__}, '
                        'not a DensePoseChartHead')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    test_cfg = cfg.test_dataloader.dataset
    from mmdensekd.registry import DATASETS
    dataset = DATASETS.build(dict(test_cfg, pipeline=[]))
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    caught: List = []
    handle = head.register_forward_hook(lambda m, i, o: caught.append(o))
    same = total = 0
    exact_same = 0
    worst = 1.0
    du, dv, n_fg = 0.0, 0.0, 0
    batches = []
    try:
        for idx in range(min(len(dataset), args.max_images)):
            data = pipeline(dataset.get_data_info(idx))
            batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                                 data_samples=[data['data_samples']]))
            caught.clear()
            with torch.no_grad():
                pred = model(**batch, mode='predict')[0].pred_instances
            if not caught or len(pred) == 0:
                continue
            dp_output, boxes = caught[-1], pred.bboxes.detach()
            ref_labels, ref_uv, _ = decode_charts_to_boxes(dp_output, boxes)
            fast_labels, fast_uv, _ = head.fast_decode(dp_output, boxes)
            loop_labels, _ = per_box_reference(dp_output, boxes)
            exact_same += sum(int((a.long() == b).sum()) for a, b in zip(ref_labels, loop_labels))
            for la, lb, ua, ub in zip(ref_labels, fast_labels, ref_uv, fast_uv):
                eq = la == lb
                same += int(eq.sum())
                total += eq.numel()
                worst = min(worst, float(eq.float().mean()))
                both = (la > 0) & (lb > 0)
                du += float((ua[0] - ub[0]).abs()[both].sum())
                dv += float((ua[1] - ub[1]).abs()[both].sum())
                n_fg += int(both.sum())
            batches.append((dp_output, boxes))
    finally:
        handle.remove()
    if not batches:
        raise RuntimeError('the model detected nothing on the test images')
    # timing at num_dets detections: the outputs and boxes of the images,
    # cycled to exactly num_dets
    dp_all = [d for d, _ in batches]
    boxes_all = torch.cat([b for _, b in batches])
    from mmdensekd.structures import DensePoseChartPredictorOutput
    fields = ('coarse_segm', 'fine_segm', 'u', 'v')
    cat = DensePoseChartPredictorOutput(
        **{f: torch.cat([getattr(d, f) for d in dp_all]) for f in fields})
    index = torch.arange(args.num_dets) % len(boxes_all)
    dp20, boxes20 = cat[index.to(boxes_all.device)], boxes_all[index.to(boxes_all.device)]
    t_d2 = timed(lambda: decode_charts_to_boxes(dp20, boxes20), args.repeats, args.device)
    t_fast = timed(lambda: head.fast_decode(dp20, boxes20), args.repeats, args.device)
    t_loop = timed(lambda: per_box_reference(dp20, boxes20), args.repeats, args.device)
    area = float(((boxes20[:, 2] - boxes20[:, 0]) * (boxes20[:, 3] - boxes20[:, 1])).mean())
    out = dict(label_agreement=same / max(total, 1), worst_box=worst,
               loop_agreement=exact_same / max(total, 1),
               mean_abs_du=du / max(n_fg, 1), mean_abs_dv=dv / max(n_fg, 1),
               pixels=total, t_detectron2=t_d2, t_fast=t_fast, t_per_box_loop=t_loop)
    print(f'{len(batches)} images, {total} box pixels: labels agree on '
          f'{100 * out["label_agreement"]:.2f} % (worst box {100 * worst:.1f} %), '
          f'mean |dU| {out["mean_abs_du"]:.4f}, |dV| {out["mean_abs_dv"]:.4f} on common '
          'foreground')
    print(f'detectron2-style vs the per-box F.interpolate loop: labels agree on '
          f'{100 * out["loop_agreement"]:.4f} %')
    print(f'{args.num_dets} detections (mean box area {area:.0f} px, {args.device}), median of '
          f'{args.repeats}: detectron2-style {1e3 * t_d2:.1f} ms, fast {1e3 * t_fast:.1f} ms '
          f'({t_d2 / t_fast:.2f}x), per-box F.interpolate loop {1e3 * t_loop:.1f} ms')
    return out


if __name__ == '__main__':
    main()
