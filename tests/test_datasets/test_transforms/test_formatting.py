# Copyright (c) mmdensekd contributors. All rights reserved.
import numpy as np
import torch
from mmdet.structures import DetDataSample

from mmdensekd.datasets.transforms import (
    LoadDensePoseAnnotations,
    LoadImageFromFileWithId,
    PackDensePoseInputs,
)
from mmdensekd.registry import TRANSFORMS
from mmdensekd.structures import DensePoseTargets


def _loaded(dp_coco, coco=None, img_id=40083):
    dataset = dp_coco.dataset(dp_coco.write(coco) if coco is not None else None)
    info = next(
        dataset.get_data_info(i) for i in range(len(dataset))
        if dataset.get_data_info(i)['img_id'] == img_id)
    return LoadDensePoseAnnotations()(LoadImageFromFileWithId()(info))


def test_pack_image_sample_with_ignored_instances(dp_coco):
    # the third person of image 40083 is a crowd box -> ignored instance
    results = _loaded(dp_coco, dp_coco.modified(1202706, iscrowd=1))
    pack = TRANSFORMS.build(dict(type='PackDensePoseInputs'))
    packed = pack(results)
    inputs = packed['inputs']
    assert isinstance(inputs, torch.Tensor)
    assert inputs.shape == (3, 333, 500) and inputs.dtype == torch.uint8
    sample = packed['data_samples']
    assert isinstance(sample, DetDataSample)
    gt = sample.gt_instances
    assert len(gt) == 2
    assert gt.bboxes.shape == (2, 4)
    assert gt.labels.dtype == torch.int64 and gt.labels.tolist() == [0, 0]
    assert gt.keypoints.shape == (2, 17, 2) and gt.keypoints.dtype == torch.float32
    assert gt.keypoints_visible.shape == (2, 17)
    assert gt.keypoints_visible.dtype == torch.float32
    np.testing.assert_array_equal(gt.keypoints.numpy(), results['gt_keypoints'][:2])
    assert isinstance(gt.densepose, DensePoseTargets) and len(gt.densepose) == 2
    assert gt.densepose.has_dp.tolist() == [True, False]
    assert torch.equal(gt.densepose.points[0], results['gt_densepose'].points[0])
    assert gt.densepose.segms.shape == (2, 256, 256)
    ignored = sample.ignored_instances
    assert len(ignored) == 1
    assert ignored.keypoints.shape == (1, 17, 2) and len(ignored.densepose) == 1
    np.testing.assert_allclose(ignored.bboxes.numpy()[0],
                               results['gt_bboxes'].numpy()[2])
    assert sample.img_id == 40083
    assert sample.ori_shape == (333, 500) and sample.img_shape == (333, 500)
    assert sample.img_path.endswith('000000040083.jpg')
    # indexing gt_instances keeps densepose aligned with the boxes
    assert gt[1:].densepose.has_dp.tolist() == [False]


def test_pack_paired_and_csi_only(dp_coco):
    results = _loaded(dp_coco)
    csi = np.random.default_rng(0).random((2, 3, 114, 10))
    results.update(csi=csi, csi_path='E01/S01/A01/wifi-csi/frame001.mat')
    packed = PackDensePoseInputs()(results)
    inputs = packed['inputs']
    assert set(inputs) == {'img', 'csi'}
    assert inputs['img'].shape == (3, 333, 500)
    assert inputs['csi'].shape == (2, 3, 114, 10) and inputs['csi'].dtype == torch.float32
    np.testing.assert_allclose(inputs['csi'].numpy(), csi, rtol=1e-6)
    assert packed['data_samples'].csi_path == 'E01/S01/A01/wifi-csi/frame001.mat'
    assert len(packed['data_samples'].gt_instances) == 3

    del results['img']
    packed = PackDensePoseInputs()(results)
    assert set(packed['inputs']) == {'csi'}
    assert packed['data_samples'].gt_instances.keypoints.shape == (3, 17, 2)
