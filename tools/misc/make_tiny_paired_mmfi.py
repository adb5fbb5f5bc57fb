# Copyright (c) mmdensekd contributors. All rights reserved.
"""Build the tiny paired WiFi/image set in the MM-Fi layout (CPU distillation demo).

    python tools/misc/make_tiny_paired_mmfi.py [OUT_DIR] \
        [--tiny-coco work_dirs/tiny_densepose_coco] \
        [--csi-dir tests/data/wifi_csi/mmfi_frames] [--ann-file PSEUDO.json]

Writes ``OUT_DIR/E01/S01/A01/wifi-csi/frameNNN.mat`` (the 12 real MM-Fi CSI
frames, copied unchanged), ``OUT_DIR/E01/S01/A01/rgb/frameNNN.jpg`` and
``OUT_DIR/annotations/mmfi_tiny_{train,val}.json``.

The real RGB frames paired with these CSI frames are not available, so frame
``k`` gets the ``k``-th image of the tiny DensePose-COCO set (cycled) and a
copy of that image's annotations (real keypoints, one real DensePose
pseudo-label). The pairing is therefore artificial: this set exercises the
data path, the teacher/student wiring and the losses, it measures nothing.
``--ann-file`` instead takes the annotations from a DensePose-COCO json over
the same frames (e.g. written by ``generate_pseudo_labels.py``).
Train = all frames, val = the last 4 (a smoke test, not a held-out split).
"""
import argparse
import copy
import json
import os
import os.path as osp
import shutil

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEQ = 'E01/S01/A01'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Build the tiny paired MM-Fi set')
    parser.add_argument('out_dir', nargs='?', default='work_dirs/tiny_paired_mmfi')
    parser.add_argument('--tiny-coco', default='work_dirs/tiny_densepose_coco',
                        help='output of tools/misc/make_tiny_densepose_coco.py')
    parser.add_argument('--csi-dir', default=osp.join(ROOT, 'tests', 'data', 'wifi_csi',
                                                      'mmfi_frames'))
    parser.add_argument('--ann-file', help='annotations over the built frames (optional)')
    parser.add_argument('--num-val', type=int, default=4)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    src_json = osp.join(args.tiny_coco, 'annotations', 'densepose_tiny_train.json')
    if not osp.isfile(src_json):
        raise FileNotFoundError(f'{src_json} not found; run tools/misc/make_tiny_densepose_coco.py '
                                f'{args.tiny_coco} first')
    csi_files = sorted(f for f in os.listdir(args.csi_dir) if f.endswith('.mat'))
    if not csi_files:
        raise FileNotFoundError(f'no .mat CSI frames in {args.csi_dir}')
    with open(src_json) as f:
        src = json.load(f)
    src_images = sorted(src['images'], key=lambda im: im['id'])
    anns_of = {}
    for ann in src['annotations']:
        anns_of.setdefault(ann['image_id'], []).append(ann)
    for sub in ('rgb', 'wifi-csi'):
        os.makedirs(osp.join(args.out_dir, SEQ, sub), exist_ok=True)
    os.makedirs(osp.join(args.out_dir, 'annotations'), exist_ok=True)

    images, annotations = [], []
    for k, csi_name in enumerate(csi_files, start=1):
        stem = osp.splitext(csi_name)[0]  # frameNNN
        shutil.copyfile(osp.join(args.csi_dir, csi_name),
                        osp.join(args.out_dir, SEQ, 'wifi-csi', csi_name))
        src_img = src_images[(k - 1) % len(src_images)]
        ext = osp.splitext(src_img['file_name'])[1]
        file_name = f'{SEQ}/rgb/{stem}{ext}'
        shutil.copyfile(osp.join(args.tiny_coco, 'images', src_img['file_name']),
                        osp.join(args.out_dir, file_name))
        images.append(dict(id=k, file_name=file_name, height=src_img['height'],
                           width=src_img['width'], source_image=src_img['file_name']))
        for ann in anns_of.get(src_img['id'], []):
            new = copy.deepcopy(ann)
            new.update(id=len(annotations) + 1, image_id=k)
            annotations.append(new)
    if args.ann_file:
        with open(args.ann_file) as f:
            annotations = json.load(f)['annotations']
    categories = src['categories']
    val_ids = {im['id'] for im in images[-args.num_val:]}
    splits = dict(train=(images, annotations),
                  val=([im for im in images if im['id'] in val_ids],
                       [a for a in annotations if a['image_id'] in val_ids]))
    out = {}
    for split, (ims, anns) in splits.items():
        path = osp.join(args.out_dir, 'annotations', f'mmfi_tiny_{split}.json')
        with open(path, 'w') as f:
            json.dump(dict(images=ims, annotations=anns, categories=categories), f)
        out[split] = path
    num_dp = sum('dp_x' in a for a in annotations)
    print(f'tiny paired MM-Fi set in {args.out_dir}: {len(images)} frames (CSI from '
          f'{args.csi_dir}), {len(annotations)} persons ({num_dp} with DensePose); '
          f'{out["train"]}, {out["val"]}')
    return out


if __name__ == '__main__':
    main()
