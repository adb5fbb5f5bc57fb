# Copyright (c) mmdensekd contributors. All rights reserved.
"""Top-down inference: our branches on given boxes, and the mmdet demos."""
import importlib.util
import json
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures.bbox import bbox2roi
from mmengine.structures import InstanceData

from mmdensekd.apis import build_test_pipeline, inference_model, inference_on_boxes, init_model

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DET_CONFIG = osp.join(ROOT, 'configs', 'densepose_rcnn',
                      'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
POSE_CONFIG = osp.join(ROOT, 'configs', 'keypoint_rcnn',
                       'densepose-keypoint-rcnn_tiny_cpu_densepose-coco-tiny.py')
COCO_TINY = osp.join(ROOT, 'tests', 'data', 'coco_tiny')
IMG = osp.join(COCO_TINY, '000000000785.jpg')
BOXES = np.array([[280.8, 44.7, 499.5, 391.4], [10.0, 20.0, 90.0, 200.0]], np.float32)


def _load(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, 'demo', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_checkpoint(tmp_path_factory, config, name, seed):
    torch.manual_seed(seed)
    path = tmp_path_factory.mktemp('ckpt') / name
    torch.save(init_model(config).state_dict(), path)
    return str(path)


@pytest.fixture(scope='module')
def det_checkpoint(tmp_path_factory):
    return _random_checkpoint(tmp_path_factory, DET_CONFIG, 'det.pth', 0)


@pytest.fixture(scope='module')
def pose_checkpoint(tmp_path_factory):
    return _random_checkpoint(tmp_path_factory, POSE_CONFIG, 'pose.pth', 1)


@pytest.fixture(scope='module')
def pose_model(pose_checkpoint):
    return init_model(POSE_CONFIG, pose_checkpoint)


def test_densepose_on_given_boxes_equals_the_branch_on_those_boxes(pose_model):
    img = cv2.imread(IMG)
    result = inference_on_boxes(pose_model, img, BOXES, scores=[0.9, 0.8])
    pred = result.pred_instances
    np.testing.assert_allclose(pred.bboxes.numpy(), BOXES)
    np.testing.assert_allclose(pred.scores.numpy(), [0.9, 0.8])
    assert len(pred.densepose) == 2 and pred.keypoints.shape == (2, 17, 2)

    # the model's DensePose branch, run by hand on the same boxes (mapped into
    # the network frame) and decoded by the RoI head onto the given boxes
    data = build_test_pipeline(pose_model.cfg, from_ndarray=True)(dict(img=img, img_id=0))
    head = pose_model.roi_head
    with torch.no_grad():
        batch = pose_model.data_preprocessor(
            dict(inputs=[data['inputs']], data_samples=[data['data_samples']]), False)
        feats = pose_model.extract_feat(batch['inputs'])
        meta = batch['data_samples'][0].metainfo
        sx, sy = meta['scale_factor']
        boxes = torch.from_numpy(BOXES)

        def branch_on(rois):
            dp = head.forward_branches(feats, rois, ['densepose'])['densepose']
            res = InstanceData(bboxes=boxes.clone())
            head.predict_densepose(feats, [meta], [res],
                                   branch_outputs={head.BRANCH_OUTPUTS['densepose']: dp})
            return res.densepose

        expected = branch_on(bbox2roi([boxes * torch.tensor([sx, sy, sx, sy])]))
        unscaled = branch_on(bbox2roi([boxes]))  # the mistake of skipping the resize
    assert sx < 1  # the image really was resized for the network
    for i, box in enumerate(boxes):
        assert pred.densepose.labels[i].shape == (int(box[3] - box[1]), int(box[2] - box[0]))
        torch.testing.assert_close(pred.densepose.labels[i], expected.labels[i])
        torch.testing.assert_close(pred.densepose.uv[i], expected.uv[i])
    assert not torch.allclose(pred.densepose.uv[0], unscaled.uv[0])


def test_given_boxes_reproduce_the_models_own_predictions(pose_model):
    img = cv2.imread(IMG)
    own = inference_model(pose_model, img).pred_instances[:3]
    assert len(own) > 0
    given = inference_on_boxes(pose_model, img, own.bboxes, own.scores,
                               own.labels).pred_instances
    for i in range(len(own)):
        a, b = own.densepose.labels[i], given.densepose.labels[i]
        assert a.shape == b.shape
        assert (a == b).float().mean() > 0.99
        same = a == b
        assert (own.densepose.uv[i] - given.densepose.uv[i]).abs()[:, same].max() < 1e-3
    torch.testing.assert_close(given.keypoints, own.keypoints, atol=0.05, rtol=0)


def test_inference_on_boxes_edge_cases(pose_model):
    img = cv2.imread(IMG)
    empty = inference_on_boxes(pose_model, img, np.zeros((0, 4))).pred_instances
    assert len(empty.densepose) == 0 and empty.keypoints.shape == (0, 17, 2)
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        inference_on_boxes(pose_model, img, np.zeros((2, 5)))
    with pytest.raises(ValueError, match='2 bboxes but 1 scores'):
        inference_on_boxes(pose_model, img, BOXES, scores=[0.5])


#: few boxes from the random detector keep the CPU tests short
FEW_DETS = ['--det-cfg-options', 'model.test_cfg.rcnn.max_per_img=4']


def test_top_down_img_demo_on_coco_tiny(det_checkpoint, pose_checkpoint, tmp_path):
    demo = _load('top_down_img_demo_with_mmdet')
    folder = tmp_path / 'images'
    folder.mkdir()
    names = ['000000000785.jpg', '000000040083.jpg']
    for name in names:
        shutil.copy(osp.join(COCO_TINY, name), folder / name)
    (folder / 'notes.txt').write_text('not an image')
    out = tmp_path / 'vis'
    written = demo.main([DET_CONFIG, det_checkpoint, POSE_CONFIG, pose_checkpoint, '--input',
                         str(folder), '--out-img-root', str(out), '--bbox-thr', '0.0',
                         '--nms-thr', '0.5', '--save-predictions', '--radius', '3', *FEW_DETS])
    assert sorted(osp.basename(p) for p in written) == names
    for path in written:
        original = cv2.imread(osp.join(COCO_TINY, osp.basename(path)))
        drawn = cv2.imread(path)
        assert drawn.shape == original.shape
        preds = json.loads((out / f'results_{osp.basename(path)[:-4]}.json').read_text())
        assert preds['instance_info'], path  # random detector still gives boxes at thr 0
        inst = preds['instance_info'][0]
        assert len(inst['keypoints']) == 17 and inst['densepose']['uv_shape'][0] == 3
        changed = np.abs(drawn.astype(np.int16) - original.astype(np.int16)).max(axis=2) > 40
        assert changed.mean() > 0.001


def test_top_down_img_demo_with_gt_boxes_from_json(pose_checkpoint, tmp_path):
    demo = _load('top_down_img_demo_with_mmdet')
    out = tmp_path / 'vis'
    coco = json.loads(open(osp.join(COCO_TINY, 'test_coco.json')).read())
    coco['images'] = [im for im in coco['images'] if im['id'] == 785]
    json_file = str(tmp_path / 'one_image.json')
    with open(json_file, 'w') as f:
        json.dump(coco, f)
    demo.main(['unused_det.py', 'unused.pth', POSE_CONFIG, pose_checkpoint, '--img-root',
               COCO_TINY, '--json-file', json_file, '--use-gt-bboxes', '--out-img-root',
               str(out), '--save-predictions'])
    anns = [a for a in coco['annotations'] if a['image_id'] == 785]
    preds = json.loads((out / 'results_000000000785.json').read_text())['instance_info']
    assert len(preds) == len(anns)
    x, y, w, h = anns[0]['bbox']
    np.testing.assert_allclose(preds[0]['bbox'], [x, y, x + w, y + h], atol=0.01)
    with pytest.raises(SystemExit):
        demo.parse_args(['a', 'b', 'c', 'd', '--input', IMG, '--img', 'x.jpg',
                         '--out-img-root', str(out)])


def test_top_down_video_demo_writes_a_video(det_checkpoint, pose_checkpoint, tmp_path, capsys):
    demo = _load('top_down_video_demo_with_mmdet')
    frame = cv2.resize(cv2.imread(IMG), (320, 212))
    src = str(tmp_path / 'clip.mp4')
    writer = cv2.VideoWriter(src, cv2.VideoWriter_fourcc(*'mp4v'), 5, (320, 212))
    for shift in range(3):
        writer.write(np.roll(frame, 4 * shift, axis=1))
    writer.release()
    out = tmp_path / 'out'
    info = demo.main([DET_CONFIG, det_checkpoint, POSE_CONFIG, pose_checkpoint, '--video-path',
                      src, '--out-video-root', str(out), '--bbox-thr', '0.0',
                      '--save-predictions', *FEW_DETS])
    assert info['frames'] == 3 and info['fps'] > 0
    assert 'fps' in capsys.readouterr().out
    capture = cv2.VideoCapture(info['out_file'])
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape == (212, 320, 3)
    preds = json.loads((out / 'results_clip.json').read_text())
    assert [p['frame_id'] for p in preds['instance_info']] == [0, 1, 2]
