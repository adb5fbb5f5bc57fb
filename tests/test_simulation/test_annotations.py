# Copyright (c) mmdensekd contributors. All rights reserved.
import json
import os.path as osp

import numpy as np
from pycocotools import mask as mask_utils

from mmdensekd.simulation import cast_points, make_frame, render_labels
from mmdensekd.structures.densepose_constants import FINE_TO_COARSE


def _frames(out, split, opts):
    with open(osp.join(out, 'annotations', f'densepose_{split}.json')) as f:
        coco = json.load(f)
    for index, img in enumerate(coco['images']):
        anns = [a for a in coco['annotations'] if a['image_id'] == img['id']]
        frame = make_frame(opts['seed'], split, index, opts['layouts'], opts['img_size'],
                           opts['min_people'], opts['max_people'], 'person-in-wifi', 25.0)
        yield img, anns, frame


def test_dp_points_lie_in_their_part_mask_and_match_a_rerender(tiny_dataset, tiny_opts):
    out, _ = tiny_dataset
    checked = 0
    for img, anns, frame in _frames(out, 'train', tiny_opts):
        for ann in anns:
            if ann['iscrowd']:
                continue
            x0, y0, w, h = ann['bbox']
            dp_x, dp_y = np.array(ann['dp_x']), np.array(ann['dp_y'])
            parts = np.array(ann['dp_I'])
            assert len(dp_x) >= 30 and len(set(map(len, (dp_x, dp_y, parts, ann['dp_U'],
                                                           ann['dp_V'])))) == 1
            masks = [mask_utils.decode(m) if m else np.zeros((256, 256), np.uint8)
                     for m in ann['dp_masks']]
            coarse = np.array(FINE_TO_COARSE)[parts]
            inside = [masks[c - 1][int(y), int(x)] for c, x, y in zip(coarse, dp_x, dp_y)]
            assert all(inside)
            xy = np.stack([x0 + dp_x * w / 256, y0 + dp_y * h / 256], axis=1)
            pix = np.floor(xy).astype(int)
            # a fresh render of the frame's scene, read at each point's pixel
            again = render_labels(frame['camera'], frame['scene'].prims,
                                  max_depth=frame['static_depth'])
            person = again['person'][pix[:, 1], pix[:, 0]]
            assert (person == person[0]).all() and person[0] >= 0
            np.testing.assert_array_equal(again['fine'][pix[:, 1], pix[:, 0]], parts)
            np.testing.assert_allclose(again['u'][pix[:, 1], pix[:, 0]], ann['dp_U'], atol=1e-6)
            np.testing.assert_allclose(again['v'][pix[:, 1], pix[:, 0]], ann['dp_V'], atol=1e-6)
            # and a single ray cast through the point itself (its pixel centre)
            ray = cast_points(frame['camera'], frame['scene'].prims, xy,
                              max_depth=frame['static_depth'][pix[:, 1], pix[:, 0]])
            assert (ray['fine'] == parts).mean() > 0.95
            np.testing.assert_allclose(ray['u'][ray['fine'] == parts],
                                       np.array(ann['dp_U'])[ray['fine'] == parts], atol=1e-4)
            checked += 1
    assert checked >= 3


def test_keypoints_boxes_and_masks(tiny_dataset, tiny_opts):
    out, _ = tiny_dataset
    seen_occluded = 0
    for img, anns, frame in _frames(out, 'val', tiny_opts):
        assert len(anns) >= 1
        person_map = frame['labels']['person']
        for ann in anns:
            x0, y0, w, h = ann['bbox']
            kpts = np.array(ann['keypoints']).reshape(17, 3)
            vis = kpts[kpts[:, 2] == 2]
            assert len(vis) > 0
            assert (vis[:, 0] >= x0).all() and (vis[:, 0] <= x0 + w).all()
            assert (vis[:, 1] >= y0).all() and (vis[:, 1] <= y0 + h).all()
            assert (kpts[kpts[:, 2] == 0][:, :2] == 0).all()
            seen_occluded += int((kpts[:, 2] == 1).sum())
            assert ann['num_keypoints'] == int((kpts[:, 2] > 0).sum())
            seg = mask_utils.decode(ann['segmentation'])
            assert seg.sum() == ann['area']
            ys, xs = np.nonzero(seg)
            assert [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()] == \
                ann['bbox']
            # the segmentation is exactly one person's visible pixels
            assert len(np.unique(person_map[seg > 0])) == 1
    assert seen_occluded > 0  # self-occlusion exists in every body seen from one side
