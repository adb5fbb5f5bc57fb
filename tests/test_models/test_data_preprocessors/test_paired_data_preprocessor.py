# Copyright (c) mmdensekd contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from mmdensekd.models.data_preprocessors import PairedDataPreprocessor
from mmdensekd.registry import MODELS

IMG_CFG = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
               pad_size_divisor=32)


def _samples(n):
    samples = []
    for i in range(n):
        sample = DetDataSample(metainfo=dict(img_id=i))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[1., 2., 10., 12.]]),
                                           labels=torch.tensor([0]))
        samples.append(sample)
    return samples


def _images(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, 20, 30), generator=gen, dtype=torch.uint8),
            torch.randint(0, 256, (3, 25, 17), generator=gen, dtype=torch.uint8)]


def _csi(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(2, 3, 114, 10, generator=gen) * 40 for _ in range(2)]


def test_plain_inputs_match_det_data_preprocessor():
    ours = MODELS.build(dict(type='PairedDataPreprocessor', csi_mean=[1, 2], csi_std=[3, 4],
                             **IMG_CFG))
    ref = DetDataPreprocessor(**IMG_CFG)
    out = ours(dict(inputs=_images(), data_samples=_samples(2)))
    expected = ref(dict(inputs=_images(), data_samples=_samples(2)))
    assert out['inputs'].shape == (2, 3, 32, 32)
    torch.testing.assert_close(out['inputs'], expected['inputs'])
    for a, b in zip(out['data_samples'], expected['data_samples']):
        assert a.batch_input_shape == b.batch_input_shape == (32, 32)
        assert a.pad_shape == b.pad_shape


def test_paired_inputs_scalar_stats():
    pre = PairedDataPreprocessor(csi_mean=[20.0, 0.5], csi_std=[10.0, 2.0], **IMG_CFG)
    csi = _csi()
    out = pre(dict(inputs=dict(img=_images(), csi=csi), data_samples=_samples(2)),
              training=True)
    ref = DetDataPreprocessor(**IMG_CFG)(dict(inputs=_images(), data_samples=_samples(2)))
    assert set(out['inputs']) == {'img', 'csi'}
    torch.testing.assert_close(out['inputs']['img'], ref['inputs'])
    stacked = torch.stack(csi)
    assert out['inputs']['csi'].shape == (2, 2, 3, 114, 10)
    torch.testing.assert_close(out['inputs']['csi'][:, 0], (stacked[:, 0] - 20.0) / 10.0)
    torch.testing.assert_close(out['inputs']['csi'][:, 1], (stacked[:, 1] - 0.5) / 2.0)
    assert out['data_samples'][1].batch_input_shape == (32, 32)
    assert isinstance(out['data_samples'][0].gt_instances.bboxes, torch.Tensor)


def test_per_element_stats_and_numpy_csi():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(2, 3, 114, 10))
    std = rng.uniform(0.5, 2.0, size=(2, 3, 114, 10))
    pre = PairedDataPreprocessor(csi_mean=mean.tolist(), csi_std=std.tolist())
    csi = [rng.normal(size=(2, 3, 114, 10)).astype(np.float32) for _ in range(3)]
    out = pre(dict(inputs=dict(csi=csi), data_samples=None))
    expected = (np.stack(csi) - mean[None]) / std[None]
    np.testing.assert_allclose(out['inputs']['csi'].numpy(), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='do not broadcast'):
        pre(dict(inputs=dict(csi=[torch.zeros(2, 150, 3, 3)]), data_samples=None))


def test_csi_only_batch_gets_image_shape():
    pre = PairedDataPreprocessor(csi_image_shape=(720, 1280), **IMG_CFG)
    out = pre(dict(inputs=dict(csi=_csi()), data_samples=_samples(2)))
    assert set(out['inputs']) == {'csi'}
    torch.testing.assert_close(out['inputs']['csi'], torch.stack(_csi()))  # no stats: as is
    for sample in out['data_samples']:
        assert sample.batch_input_shape == (720, 1280)
        assert sample.pad_shape == (720, 1280)
    no_shape = PairedDataPreprocessor(**IMG_CFG)
    with pytest.raises(ValueError, match='csi_image_shape'):
        no_shape(dict(inputs=dict(csi=_csi()), data_samples=_samples(2)))


def test_config_and_input_errors():
    with pytest.raises(ValueError, match='csi_mean'):
        PairedDataPreprocessor(csi_mean=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match='csi_std'):
        PairedDataPreprocessor(csi_std=[1.0, 0.0])
    with pytest.raises(ValueError, match='csi_image_shape'):
        PairedDataPreprocessor(csi_image_shape=(720, ))
    pre = PairedDataPreprocessor()
    with pytest.raises(ValueError, match=r'\(B, 2, \*S\)'):
        pre(dict(inputs=dict(csi=[torch.zeros(3, 114, 10)]), data_samples=None))
    with pytest.raises(ValueError, match='different shapes'):
        pre(dict(inputs=dict(csi=[torch.zeros(2, 3), torch.zeros(2, 4)]), data_samples=None))
    with pytest.raises(ValueError, match='unknown input keys'):
        pre(dict(inputs=dict(depth=[torch.zeros(1, 4, 4)]), data_samples=None))


def test_csi_only_batch_sets_img_shape_ori_shape_scale_factor():
    pre = PairedDataPreprocessor(csi_image_shape=(64, 96), **IMG_CFG)
    samples = _samples(2)
    # the pipeline's own values are kept (setdefault semantics)
    samples[1].set_metainfo(dict(ori_shape=(128, 192)))
    out = pre(dict(inputs=dict(csi=_csi()), data_samples=samples))
    first, second = out['data_samples']
    assert first.img_shape == (64, 96) and first.ori_shape == (64, 96)
    assert first.scale_factor == (1.0, 1.0)
    assert second.img_shape == (64, 96) and second.ori_shape == (128, 192)
    assert second.scale_factor == (0.5, 0.5)
    samples = _samples(1)
    samples[0].set_metainfo(dict(img_shape=(60, 90), ori_shape=(60, 90), scale_factor=(2., 3.)))
    out = pre(dict(inputs=dict(csi=_csi()[:1]), data_samples=samples))
    assert out['data_samples'][0].img_shape == (60, 90)
    assert out['data_samples'][0].scale_factor == (2., 3.)
    assert out['data_samples'][0].batch_input_shape == (64, 96)


def test_csi_only_batch_runs_a_densepose_rcnn_student():
    """The CSI-only metainfo is enough for the RPN, RoI heads and rescaled
    predictions of the tiny DensePose R-CNN (it raised KeyError 'img_shape')."""
    import os.path as osp

    from mmengine.config import Config

    import mmdensekd.models  # noqa: F401
    from mmdensekd.structures import DensePoseTargets
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    det = Config.fromfile(osp.join(root, 'configs', '_base_', 'models',
                                   'densepose-rcnn_r18-tiny_fpn.py')).model
    det.pop('data_preprocessor')
    torch.manual_seed(0)
    student = MODELS.build(det)
    student.init_weights()
    pre = PairedDataPreprocessor(csi_image_shape=(64, 96), csi_mean=[20., 0.], csi_std=[10., 1.],
                                 **IMG_CFG)
    samples = []
    for i in range(2):
        sample = DetDataSample(metainfo=dict(img_id=i))
        points = torch.cat([torch.rand(8, 2) * 255, torch.randint(1, 25, (8, 1)).float(),
                            torch.rand(8, 2)], dim=1)
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 8., 60., 56.]]), labels=torch.zeros(1, dtype=torch.long),
            densepose=DensePoseTargets([points], torch.ones(1, 256, 256, dtype=torch.uint8),
                                       torch.ones(1, dtype=torch.bool)))
        samples.append(sample)
    out = pre(dict(inputs=dict(csi=_csi()), data_samples=samples), training=True)
    image = torch.randn(2, 3, 64, 96)  # stands for the MTN output
    student.train()
    losses = student.loss(image, out['data_samples'])
    assert 'loss_rpn_cls' in losses and 'loss_densepose_I' in losses
    assert torch.isfinite(losses['loss_cls'])
    student.eval()
    with torch.no_grad():
        preds = student.predict(image, out['data_samples'], rescale=True)
    assert len(preds) == 2
    for pred in preds:
        boxes = pred.pred_instances.bboxes
        assert boxes.shape[1] == 4
        assert bool((boxes[:, 2] <= 96).all()) and bool((boxes[:, 3] <= 64).all())


def test_csi_stats_file_read_at_build_or_first_batch(tmp_path):
    """Statistics come from the dataset's meta file; a file written after the
    preprocessor was built is read at the first CSI batch; no file is an
    error naming it."""
    from mmdensekd.datasets.csi_stats import write_csi_stats
    meta = tmp_path / 'meta.json'
    csi = torch.full((1, 2, 3, 4), 30.0)
    late = PairedDataPreprocessor(csi_stats_file=str(meta), csi_image_shape=(8, 8))
    with pytest.raises(FileNotFoundError, match='meta.json'):
        late.preprocess_csi(csi)
    write_csi_stats(str(meta), dict(csi_mean=[20.0, 0.5], csi_std=[10.0, 2.0]))
    out = late.preprocess_csi(csi)
    assert out[0, 0, 0, 0].item() == pytest.approx(1.0)  # (30 - 20) / 10
    assert out[0, 1, 0, 0].item() == pytest.approx(14.75)  # (30 - 0.5) / 2
    early = PairedDataPreprocessor(csi_stats_file=str(meta))
    assert early.csi_mean.tolist() == [20.0, 0.5] and early.csi_std.tolist() == [10.0, 2.0]
    assert 'csi_mean' not in early.state_dict()  # statistics travel with the data
    with pytest.raises(ValueError, match='not both'):
        PairedDataPreprocessor(csi_stats_file=str(meta), csi_mean=[1.0, 0.0])
    meta.write_text('{"other": 1}')
    with pytest.raises(KeyError, match='no csi_stats.csi_mean'):
        PairedDataPreprocessor(csi_stats_file=str(meta))
