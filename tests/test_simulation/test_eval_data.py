# Copyright (c) mmdensekd contributors. All rights reserved.
import numpy as np

from mmdensekd.evaluation.functional import DensePoseEvalData, evaluate
from mmdensekd.simulation import build_geodesics, make_frame, write_eval_data


def test_files_have_the_official_structure(tmp_path):
    write_eval_data(str(tmp_path), num_rings=6, num_around=8)
    data = DensePoseEvalData.from_dir(str(tmp_path))
    fine, u, v, dist = build_geodesics(6, 8)
    n = len(fine)
    assert n == 14 * 6 * 8 and set(np.unique(fine)) == set(range(1, 25))
    assert len(data.pdist) == n * (n - 1) // 2
    a, b = 40, 7
    np.testing.assert_allclose(data.geodesic(np.array([a + 1]), np.array([b + 1]))[0],
                               dist[a, b], rtol=1e-6)
    assert np.isfinite(dist).all() and (dist >= 0).all()
    # hands are far apart on the body, a part's own vertices close
    verts = data.closest_vertices(np.array([3, 4, 3]), np.array([0.5, 0.5, 0.55]),
                                  np.array([0.5, 0.5, 0.5]))
    far = data.geodesic(verts[:1], verts[1:2])[0]
    near = data.geodesic(verts[:1], verts[2:3])[0]
    assert far > 1.0 and near < 0.05


def _perfect_results(gt, frames):
    results = []
    for ann in gt['annotations']:
        labels = frames[ann['image_id']]['labels']
        x0, y0, w, h = ann['bbox']
        crop = (slice(y0, y0 + h), slice(x0, x0 + w))
        mine = labels['person'][crop] == labels['person'][
            int(y0 + ann['dp_y'][0] * h / 256), int(x0 + ann['dp_x'][0] * w / 256)]
        iuv = np.stack([np.where(mine, labels['fine'][crop], 0),
                        np.round(labels['u'][crop] * 255) * mine,
                        np.round(labels['v'][crop] * 255) * mine]).astype(np.uint8)
        results.append(dict(image_id=ann['image_id'], category_id=1, score=0.9,
                            bbox=list(ann['bbox']), iuv=iuv))
    return results


def test_gps_of_a_perfect_prediction_is_one(tmp_path):
    data = DensePoseEvalData.from_dir(write_eval_data(str(tmp_path)))
    gt = dict(images=[], annotations=[], categories=[dict(id=1, name='person')])
    frames = {}
    for index in range(3):
        frame = make_frame(9, 'val', index, 3, (160, 120), 2, 3, 'person-in-wifi', None)
        img_id = index + 1
        frames[img_id] = frame
        gt['images'].append(dict(id=img_id, width=160, height=120))
        for ann in frame['anns']:
            if not ann['iscrowd']:
                gt['annotations'].append(dict(ann, id=len(gt['annotations']) + 1,
                                              image_id=img_id))
    assert len(gt['annotations']) >= 4
    stats = evaluate(gt, _perfect_results(gt, frames), modes=('GPS', 'GPSm', 'IOU'),
                     eval_data=data, show_progress=False)
    assert stats['GPS_AP'] == 1.0 and stats['GPSm_AP'] == 1.0
    assert stats['IOU_AP'] > 0.9
    # a chart with U and V mirrored is far on the body surface: GPS drops
    bad = _perfect_results(gt, frames)
    for res in bad:
        res['iuv'][1] = np.where(res['iuv'][0] > 0, 255 - res['iuv'][1], 0)
    worse = evaluate(gt, bad, modes=('GPS', ), eval_data=data, show_progress=False)
    assert worse['GPS_AP'] < 0.9
