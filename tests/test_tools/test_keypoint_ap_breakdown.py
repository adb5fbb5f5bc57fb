# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/analysis/keypoint_ap_breakdown.py: box vs pose in keypoint AP."""
import json

import numpy as np
import pytest


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis/keypoint_ap_breakdown.py')


def _gt(rng, n=6):
    cats = [dict(id=1, name='person', keypoints=[f'k{i}' for i in range(17)], skeleton=[])]
    images, anns = [], []
    for i in range(n):
        box = [float(v) for v in rng.uniform(10, 40, 2)] + [50.0, 100.0]
        rel = rng.uniform(0.05, 0.95, (17, 2))
        kp = np.concatenate([rel * box[2:] + box[:2], np.full((17, 1), 2.0)], 1)
        images.append(dict(id=i + 1, width=200, height=200, file_name=f'{i}.jpg'))
        anns.append(dict(id=i + 1, image_id=i + 1, category_id=1, bbox=box, area=3000.0,
                         iscrowd=0, num_keypoints=17, keypoints=kp.reshape(-1).tolist()))
    return dict(images=images, annotations=anns, categories=cats)


def test_breakdown_separates_box_from_pose(tool, tmp_path):
    gt = _gt(np.random.default_rng(0))
    results = []
    for i, ann in enumerate(gt['annotations']):
        kp = np.reshape(ann['keypoints'], (-1, 3)).copy()
        box = list(ann['bbox'])
        if i % 2:  # exact pose, box shifted by 40 % of its width
            box[0] += 20.0
            kp[:, 0] += 20.0
        else:  # exact box, pose scrambled
            rel = (kp[:, :2] - box[:2]) / box[2:]
            kp[:, :2] = rel[::-1] * box[2:] + box[:2]
        kp[:, 2] = 1.0
        results.append(dict(image_id=ann['image_id'], category_id=1, score=0.9, bbox=box,
                            keypoints=kp.reshape(-1).tolist()))
    gt_file, res_file = tmp_path / 'gt.json', tmp_path / 'res.json'
    gt_file.write_text(json.dumps(gt))
    res_file.write_text(json.dumps(results))
    table = tool.main([str(gt_file), str(res_file), '--out', str(tmp_path / 'o.json')])
    assert table['as predicted']['AP'] < 0.2
    # the true pose in the shifted boxes stays off; in the exact boxes it is right
    assert 0.2 < table['true pose in its box']['AP'] < 0.8
    # every detection's own pose in the true box: the shifted ones become exact
    assert 0.2 < table['its pose in the true box']['AP'] < 0.8
    assert json.loads((tmp_path / 'o.json').read_text()) == table


def test_breakdown_names_a_bad_results_file(tool, tmp_path):
    gt_file = tmp_path / 'gt.json'
    gt_file.write_text(json.dumps(_gt(np.random.default_rng(1))))
    bad = tmp_path / 'res.json'
    bad.write_text(json.dumps([dict(image_id=1, category_id=1, score=1.0)]))
    with pytest.raises(ValueError, match='result 0'):
        tool.main([str(gt_file), str(bad)])
    with pytest.raises(FileNotFoundError, match='missing.json'):
        tool.main([str(gt_file), str(tmp_path / 'missing.json')])
    # an image the ground truth lacks (xtcocotools would fail an assertion)
    bad.write_text(json.dumps([dict(image_id=99, category_id=1, score=1.0, bbox=[0, 0, 9, 9],
                                    keypoints=[0.0] * 51)]))
    with pytest.raises(ValueError, match=r'res\.json: result 0 is of image 99'):
        tool.main([str(gt_file), str(bad)])
    no_anns = tmp_path / 'tmpl.json'
    no_anns.write_text(json.dumps(dict(images=[])))
    for argv in ([str(no_anns), str(bad)], [str(gt_file), str(bad), '--template-ann',
                                             str(no_anns)]):
        with pytest.raises(ValueError, match='tmpl.json.* no "annotations"'):
            tool.main(argv)
