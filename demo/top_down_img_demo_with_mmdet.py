# Copyright (c) mmdensekd contributors. All rights reserved.
"""Top-down DensePose / keypoint demo on images with an mmdet person detector.

Any mmdet detector (config + checkpoint) gives person boxes; our DensePose /
keypoint R-CNN runs its DensePose, keypoint and refinement branches on those
boxes (not its own RPN) and boxes, skeletons and DensePose are drawn. Our
own DensePose R-CNN may serve as the detector.

Examples::

    # mmpose 1.x style: a file or a folder
    python demo/top_down_img_demo_with_mmdet.py \\
        DET_CONFIG DET_CHECKPOINT POSE_CONFIG POSE_CHECKPOINT \\
        --input tests/data/coco_tiny --out-img-root vis_results

    # mmpose 0.x style: one image of a folder, or every image of a COCO json
    python demo/top_down_img_demo_with_mmdet.py ... \\
        --img-root tests/data/coco_tiny --img 000000000785.jpg --out-img-root vis
    python demo/top_down_img_demo_with_mmdet.py ... \\
        --img-root tests/data/coco_tiny --json-file tests/data/coco_tiny/test_coco.json \\
        --out-img-root vis [--use-gt-bboxes]
"""
import json
import os
import os.path as osp
import warnings
from argparse import ArgumentParser, Namespace
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.structures import InstanceData
from mmengine.utils import ProgressBar

from mmdensekd.apis import inference_model, inference_on_boxes, init_model
from mmdensekd.structures import encode_iuv_png
from mmdensekd.utils import allow_mmengine_checkpoint_globals
from mmdensekd.utils.misc import to_numpy
from mmdensekd.visualization import VIS_MODES, DensePoseVisualizer

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')

Detector = Tuple[torch.nn.Module, Callable]


def add_common_args(parser: ArgumentParser) -> ArgumentParser:
    """Arguments shared by the image and the video top-down demo."""
    parser.add_argument('det_config', help='mmdet detector config file')
    parser.add_argument('det_checkpoint', help='local detector checkpoint file')
    parser.add_argument('pose_config', help='DensePose / keypoint R-CNN config file')
    parser.add_argument('pose_checkpoint', help='local DensePose / keypoint checkpoint file')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--det-cat-id', type=int, default=0,
                        help='detector class id of persons (0 for COCO in mmdet 3.x)')
    parser.add_argument('--bbox-thr', type=float, default=0.3, help='person box score threshold')
    parser.add_argument('--nms-thr', type=float, default=0.3, help='IoU threshold of box NMS')
    parser.add_argument('--kpt-thr', type=float, default=0.3, help='keypoint score threshold')
    parser.add_argument('--radius', type=int, default=4, help='keypoint radius')
    parser.add_argument('--thickness', type=int, default=1, help='box and limb thickness')
    parser.add_argument('--vis-mode', default='parts', choices=list(VIS_MODES) + ['none'],
                        help='how to draw DensePose results')
    parser.add_argument('--texture', default=osp.join(osp.dirname(osp.abspath(__file__)),
                                                      'resources', 'texture_atlas_200.png'),
                        help='texture atlas for --vis-mode texture')
    parser.add_argument('--alpha', type=float, default=0.6, help='opacity of the charts')
    parser.add_argument('--show', action='store_true', help='show the drawings in a window')
    parser.add_argument('--save-predictions', action='store_true',
                        help='write the predictions as JSON next to the drawings')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='overrides of the pose config')
    parser.add_argument('--det-cfg-options', nargs='+', action=DictAction, default=None,
                        help='overrides of the detector config, e.g. '
                        'model.test_cfg.rcnn.max_per_img=20')
    return parser


def parse_args(argv: Optional[List[str]] = None) -> Namespace:
    parser = add_common_args(ArgumentParser(description=__doc__.split('\n')[0]))
    parser.add_argument('--input', default=None, help='image file or folder (1.x style)')
    parser.add_argument('--img-root', default='', help='image root (0.x style)')
    parser.add_argument('--img', default=None, help='image name under --img-root (0.x style)')
    parser.add_argument('--json-file', default=None,
                        help='COCO json whose images (file_name under --img-root) are run')
    parser.add_argument('--use-gt-bboxes', action='store_true',
                        help='with --json-file: person boxes from the annotations, no detector')
    parser.add_argument('--out-img-root', default='', help='directory of the drawings')
    args = parser.parse_args(argv)
    if sum(x is not None for x in (args.input, args.img, args.json_file)) != 1:
        parser.error('give exactly one of --input, --img (with --img-root) or --json-file')
    if args.use_gt_bboxes and args.json_file is None:
        parser.error('--use-gt-bboxes needs --json-file')
    if not args.out_img_root and not args.show:
        parser.error('give --out-img-root and / or --show')
    return args


def list_inputs(args: Namespace) -> List[Tuple[str, Optional[np.ndarray]]]:
    """(image path, GT person boxes or None) for every image to run."""
    if args.input is not None:
        if osp.isdir(args.input):
            files = sorted(osp.join(args.input, f) for f in os.listdir(args.input)
                           if f.lower().endswith(IMG_EXTENSIONS))
            if not files:
                raise FileNotFoundError(f'no image files in {args.input}')
            return [(f, None) for f in files]
        if not osp.isfile(args.input):
            raise FileNotFoundError(f'image file or folder {args.input} does not exist')
        return [(args.input, None)]
    if args.img is not None:
        path = osp.join(args.img_root, args.img)
        if not osp.isfile(path):
            raise FileNotFoundError(f'image file {path} does not exist')
        return [(path, None)]
    if not osp.isfile(args.json_file):
        raise FileNotFoundError(f'json file {args.json_file} does not exist')
    with open(args.json_file, encoding='utf-8') as f:
        coco = json.load(f)
    if 'images' not in coco:
        raise ValueError(f'{args.json_file} has no "images" entry')
    boxes: Dict[int, list] = {}
    for ann in coco.get('annotations', []):
        if ann.get('category_id', 1) == 1 and not ann.get('iscrowd', 0) and 'bbox' in ann:
            x, y, w, h = ann['bbox']
            boxes.setdefault(ann['image_id'], []).append([x, y, x + w, y + h])
    return [(osp.join(args.img_root, im['file_name']),
             np.asarray(boxes.get(im['id'], []), np.float32).reshape(-1, 4)
             if args.use_gt_bboxes else None) for im in coco['images']]


def build_detector(config: str, checkpoint: str, device: str,
                   cfg_options: Optional[dict] = None) -> Detector:
    """The detector and its ``(model, bgr_image) -> DetDataSample`` function.

    mmdet's ``init_detector`` / ``inference_detector`` are used when
    ``mmdet.apis`` imports (it may need torchvision); otherwise the model is
    built through the registry by :func:`mmdensekd.apis.init_model`.
    """
    allow_mmengine_checkpoint_globals()
    try:
        from mmdet.apis import inference_detector, init_detector
    except ImportError as e:  # e.g. no torchvision
        warnings.warn(f'mmdet.apis is not importable ({e}); building the detector through '
                      'the registry instead')
        return (init_model(config, checkpoint, device=device, cfg_options=cfg_options),
                inference_model)
    return (init_detector(config, checkpoint, device=device, cfg_options=cfg_options),
            inference_detector)


def person_boxes(det_sample, det_cat_id: int, bbox_thr: float,
                 nms_thr: float) -> Tuple[np.ndarray, np.ndarray]:
    """Person boxes (N, 4) and scores (N,) above ``bbox_thr`` after NMS."""
    from mmcv.ops import nms
    pred = det_sample.pred_instances
    boxes = to_numpy(pred.bboxes).reshape(-1, 4).astype(np.float32)
    scores = to_numpy(pred.scores).reshape(-1).astype(np.float32)
    labels = to_numpy(pred.labels).reshape(-1)
    keep = (labels == det_cat_id) & (scores > bbox_thr)
    boxes, scores = boxes[keep], scores[keep]
    if len(boxes) and nms_thr < 1:
        _, inds = nms(torch.from_numpy(boxes), torch.from_numpy(scores), nms_thr)
        inds = inds.numpy()
        boxes, scores = boxes[inds], scores[inds]
    return boxes, scores


def build_visualizer(args: Namespace, pose_model) -> DensePoseVisualizer:
    vis_mode = None if args.vis_mode == 'none' else args.vis_mode
    visualizer = DensePoseVisualizer(
        name=f'top_down_visualizer_{id(args)}', vis_mode=vis_mode,
        texture=args.texture if vis_mode == 'texture' else None, alpha=args.alpha,
        kpt_thr=args.kpt_thr, line_width=args.thickness, radius=args.radius)
    visualizer.dataset_meta = pose_model.dataset_meta
    return visualizer


def predict_frame(frame: np.ndarray, args: Namespace, detector: Optional[Detector], pose_model,
                  gt_boxes: Optional[np.ndarray] = None):
    """Detect persons (or take ``gt_boxes``) and run the pose model on them."""
    if gt_boxes is not None:
        boxes, scores = gt_boxes, np.ones(len(gt_boxes), np.float32)
    else:
        det_model, infer = detector
        boxes, scores = person_boxes(infer(det_model, frame), args.det_cat_id, args.bbox_thr,
                                     args.nms_thr)
    return inference_on_boxes(pose_model, frame, boxes, scores,
                              np.zeros(len(boxes), np.int64))


def instances_to_json(pred: InstanceData) -> List[dict]:
    """JSON-ready instances: box, score, keypoints, DensePose IUV (base64 PNG)."""
    out = []
    boxes = to_numpy(pred.bboxes).reshape(-1, 4)
    for i in range(len(boxes)):
        item = dict(bbox=[round(float(v), 2) for v in boxes[i]],
                    bbox_score=round(float(pred.scores[i]), 4))
        if 'keypoints' in pred:
            item['keypoints'] = np.round(to_numpy(pred.keypoints[i]), 2).tolist()
            item['keypoint_scores'] = np.round(to_numpy(pred.keypoint_scores[i]), 4).tolist()
        if 'densepose' in pred:
            iuv = pred.densepose.iuv(i)
            item['densepose'] = dict(uv_shape=list(iuv.shape), uv_data=encode_iuv_png(iuv))
        out.append(item)
    return out


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Run the demo; returns the written drawings."""
    args = parse_args(argv)
    inputs = list_inputs(args)
    detector = None if args.use_gt_bboxes else build_detector(
        args.det_config, args.det_checkpoint, args.device, args.det_cfg_options)
    pose_model = init_model(args.pose_config, args.pose_checkpoint, device=args.device,
                            cfg_options=args.cfg_options)
    visualizer = build_visualizer(args, pose_model)
    if args.out_img_root:
        os.makedirs(args.out_img_root, exist_ok=True)
    written, skipped = [], []
    progress = ProgressBar(len(inputs)) if len(inputs) > 1 else None
    for path, gt_boxes in inputs:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            skipped.append(path)
            warnings.warn(f'skipped unreadable image file {path}')
        else:
            result = predict_frame(img, args, detector, pose_model, gt_boxes)
            name = osp.basename(path)
            out_file = osp.join(args.out_img_root, name) if args.out_img_root else None
            visualizer.add_datasample(name, cv2.cvtColor(img, cv2.COLOR_BGR2RGB), result,
                                      draw_gt=False, show=args.show, out_file=out_file,
                                      pred_score_thr=0.0)
            if out_file is not None:
                written.append(out_file)
            if args.save_predictions and args.out_img_root:
                pred_file = osp.join(args.out_img_root, f'results_{osp.splitext(name)[0]}.json')
                with open(pred_file, 'w', encoding='utf-8') as f:
                    json.dump(dict(img_path=path,
                                   instance_info=instances_to_json(result.pred_instances)), f)
        if progress is not None:
            progress.update()
    print(f'\n{len(written)} drawings written to {args.out_img_root or "(none)"}'
          + (f', {len(skipped)} unreadable images skipped' if skipped else ''))
    return written


if __name__ == '__main__':
    main()
