# Copyright (c) mmdensekd contributors. All rights reserved.
"""Build the tiny real-image DensePose-COCO set (README main job, tests).

    python tools/misc/make_tiny_densepose_coco.py [OUT_DIR]

``OUT_DIR`` defaults to ``work_dirs/tiny_densepose_coco`` (the tiny configs' data_root).

Takes the 4 COCO val2017 images and 14 person annotations (real keypoints) of
``tests/data/coco_tiny`` and adds DensePose fields converted from the real
DensePose R-CNN prediction on image 785 in
``tests/data/densepose_real/example_results.json`` to the matching person.
Writes ``OUT_DIR/images/`` and ``OUT_DIR/annotations/densepose_tiny_{train,val}.json``.
Idempotent: running it again changes nothing.
"""
import argparse
import os.path as osp

from mmdensekd.testing.tiny_densepose import build_tiny_densepose_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Build the tiny DensePose-COCO set')
    parser.add_argument('out_dir', nargs='?', default='work_dirs/tiny_densepose_coco',
                        help='output directory')
    parser.add_argument('--coco-dir', default=osp.join(ROOT, 'tests', 'data', 'coco_tiny'),
                        help='folder with test_coco.json and its images')
    parser.add_argument('--results',
                        default=osp.join(ROOT, 'tests', 'data', 'densepose_real',
                                         'example_results.json'),
                        help='DensePose challenge results JSON')
    parser.add_argument('--num-points', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    info = build_tiny_densepose_coco(args.out_dir, args.coco_dir, args.results,
                                     num_points=args.num_points, seed=args.seed)
    state = f'{len(info["changed"])} files written' if info['changed'] else 'up to date'
    print(f'tiny DensePose-COCO set in {args.out_dir} ({state}): {info["num_images"]} images, '
          f'{info["num_dp_instances"]} person(s) with DensePose; annotations: '
          f'{", ".join(info["ann_files"])}')
    return info


if __name__ == '__main__':
    main()
