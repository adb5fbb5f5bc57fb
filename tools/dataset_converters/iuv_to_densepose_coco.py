# Copyright (c) mmdensekd contributors. All rights reserved.
"""Convert dense IUV maps into DensePose-COCO annotations.

From COCO DensePose challenge results (box-sized IUV maps as base64 PNG)::

    python tools/dataset_converters/iuv_to_densepose_coco.py \
        --results example_results.json --out dp_anns.json

From a full-image IUV image and its instance index image (OpenCV order,
channel 0 = I)::

    python tools/dataset_converters/iuv_to_densepose_coco.py \
        --iuv demo_im_IUV.png --inds demo_im_INDS.png --image demo_im.jpg \
        --image-id 1 --out dp_anns.json

Add ``--merge-into person_keypoints.json`` to add the dp fields to the
ground-truth persons matched by box IoU (>= ``--iou-thr``) instead: their
keypoints, box and segmentation are kept, unmatched instances are counted
and skipped. Every instance gets about ``--num-points`` points (seeded) and
the 14 coarse ``dp_masks`` as RLE.
"""
import argparse
import json
import os
import os.path as osp

import cv2
from mmengine.utils import track_iter_progress

from mmdensekd.datasets.iuv_conversion import (
    instances_from_iuv_image,
    instances_to_annotations,
    load_challenge_results,
    merge_instances_into_coco,
)

PERSON_CATEGORY = dict(id=1, name='person', supercategory='person')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert IUV maps into DensePose-COCO annotations')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--results', help='COCO DensePose challenge results JSON')
    src.add_argument('--iuv', help='full-image IUV image (OpenCV channel order: I, U, V)')
    parser.add_argument('--inds', help='instance index image for --iuv (0 = background)')
    parser.add_argument('--image', help='the RGB image of --iuv (file name and size)')
    parser.add_argument('--image-id', type=int, default=1, help='image id for --iuv')
    parser.add_argument('--out', required=True, help='output JSON file')
    parser.add_argument('--merge-into', help='COCO keypoints JSON whose persons receive '
                        'the dp fields of the instances they match')
    parser.add_argument('--iou-thr', type=float, default=0.5, help='IoU of a match')
    parser.add_argument('--score-thr', type=float, default=0.0,
                        help='skip results scoring lower (--results)')
    parser.add_argument('--num-points', type=int, default=100,
                        help='approximate number of points per instance')
    parser.add_argument('--min-per-part', type=int, default=3,
                        help='minimum points per body part present')
    parser.add_argument('--seed', type=int, default=0, help='point sampling seed')
    parser.add_argument('--image-dir', help='with --results: folder of the images '
                        '(<image_id:012d>.jpg) to fill in width/height')
    args = parser.parse_args(argv)
    if args.iuv and not args.inds:
        parser.error('--iuv needs --inds (the per-pixel instance index image)')
    if args.num_points < 1 or args.min_per_part < 0:
        parser.error('--num-points must be >= 1 and --min-per-part >= 0')
    return args


def _image_entry(image_id: int, file_name: str, path: str = None) -> dict:
    entry = dict(id=image_id, file_name=file_name)
    if path is not None and osp.isfile(path):
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f'cannot read image {path}')
        entry.update(height=int(img.shape[0]), width=int(img.shape[1]))
    return entry


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.results:
        instances = load_challenge_results(args.results, args.score_thr)
    else:
        instances = instances_from_iuv_image(args.iuv, args.inds, args.image_id)
    print(f'{len(instances)} IUV instances read')

    if args.merge_into:
        with open(args.merge_into, encoding='utf-8') as f:
            coco = json.load(f)
        out, stats = merge_instances_into_coco(coco, instances, args.iou_thr, args.num_points,
                                               args.min_per_part, args.seed)
        print(f'{stats["matched"]} instances merged into ground-truth persons, '
              f'{stats["unmatched"]} unmatched (skipped)')
    else:
        anns = instances_to_annotations(instances, args.num_points, args.min_per_part,
                                        args.seed)
        if args.results:
            images = []
            for image_id in track_iter_progress(sorted({a['image_id'] for a in anns})):
                name = f'{image_id:012d}.jpg' if isinstance(image_id, int) else str(image_id)
                path = osp.join(args.image_dir, name) if args.image_dir else None
                images.append(_image_entry(image_id, name, path))
        else:
            name = osp.basename(args.image) if args.image else osp.basename(args.iuv)
            images = [_image_entry(args.image_id, name, args.image)]
        out = dict(images=images, annotations=anns, categories=[PERSON_CATEGORY])
        print(f'{len(anns)} DensePose annotations written')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(out, f)
    print(f'saved to {args.out}')
    return out


if __name__ == '__main__':
    main()
