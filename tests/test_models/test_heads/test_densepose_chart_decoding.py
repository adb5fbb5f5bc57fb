# Copyright (c) mmdensekd contributors. All rights reserved.
"""detectron2's per-pixel IUV decoding (bilinear scores to the box, argmax,
U/V unclamped) against hand-computed values and per-box interpolation."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from mmdensekd.models.heads import densepose_chart_decoding as dec
from mmdensekd.models.heads.densepose_chart_decoding import box_sizes, decode_charts_to_boxes
from mmdensekd.registry import MODELS
from mmdensekd.structures import DensePoseChartPredictorOutput
from mmdensekd.utils import register_all_modules


@pytest.fixture(scope='module', autouse=True)
def _register():
    register_all_modules()


def _constructed(with_confidence=False):
    """One RoI with 2x2 maps. Coarse: background in row 0, foreground in
    row 1. Fine: background 0.9, part 3 scores (4, 0) and part 7 (0, 1) by
    column. U of part 3 (0.2, 0.6), of part 7 1.5; V 0.25 and -0.5."""
    coarse = torch.zeros(1, 2, 2, 2)
    coarse[0, 0, 0] = 2.0
    coarse[0, 1, 1] = 2.0
    fine = torch.zeros(1, 25, 2, 2)
    fine[0, 0] = 0.9
    fine[0, 3, :, 0] = 4.0
    fine[0, 7, :, 1] = 1.0
    u = torch.zeros(1, 25, 2, 2)
    u[0, 3] = torch.tensor([0.2, 0.6])
    u[0, 7] = 1.5
    v = torch.zeros(1, 25, 2, 2)
    v[0, 3], v[0, 7] = 0.25, -0.5
    out = DensePoseChartPredictorOutput(coarse, fine, u, v)
    if with_confidence:
        out.sigma_2 = torch.zeros(1, 25, 2, 2)
        out.sigma_2[0, 3] = torch.tensor([1.0, 3.0])
        out.sigma_2[0, 7] = 5.0
        out.fine_segm_confidence = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    return out


def test_hand_computed_bilinear_then_argmax():
    """A 4x4 box from 2x2 maps: source x = max((j + 0.5) / 2 - 0.5, 0), so
    columns read (v0, 0.75 v0 + 0.25 v1, 0.25 v0 + 0.75 v1, v1). Coarse rows
    0-1 stay background (2 / 1.5 vs 0 / 0.5). Fine in column 2: part 3 = 1,
    part 7 = 0.75, background 0.9 -> part 3 (the argmax at 2x2 and a nearest
    resize would give part 7)."""
    labels, uv, confs = decode_charts_to_boxes(_constructed(), torch.tensor([[5., 7., 9., 11.]]))
    assert confs == {}
    assert labels[0].dtype == torch.uint8
    assert labels[0].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [3, 3, 3, 7], [3, 3, 3, 7]]
    # U of part 3 interpolated (0.2, 0.3, 0.5), part 7 unclamped 1.5; 0 on background
    expected_u = torch.tensor([0.2, 0.3, 0.5, 1.5])
    torch.testing.assert_close(uv[0][0, 2:], expected_u.expand(2, 4))
    torch.testing.assert_close(uv[0][1, 2:], torch.tensor([0.25, 0.25, 0.25, -0.5]).expand(2, 4))
    assert uv[0][:, :2].abs().sum() == 0


def test_fast_decoding_differs_where_detectron2_says_so():
    head = MODELS.build(dict(type='DensePoseChartHead', in_channels=8, decoding='fast'))
    res = InstanceData(bboxes=torch.tensor([[5., 7., 9., 11.]]))
    head.predict_by_feat(_constructed(), [res])
    # argmax at 2x2, nearest resize: column 2 is part 7; U clamped to 1
    assert res.densepose.labels[0][3].tolist() == [3, 3, 7, 7]
    assert res.densepose.uv[0].max() <= 1.0
    d2 = MODELS.build(dict(type='DensePoseChartHead', in_channels=8))
    assert d2.decoding == 'detectron2'
    res2 = InstanceData(bboxes=res.bboxes.clone())
    d2.predict_by_feat(_constructed(), [res2])
    assert res2.densepose.labels[0][3].tolist() == [3, 3, 3, 7]
    with pytest.raises(ValueError, match='decoding'):
        MODELS.build(dict(type='DensePoseChartHead', in_channels=8, decoding='nearest'))


def test_confidences_read_at_the_label():
    labels, uv, confs = decode_charts_to_boxes(_constructed(True),
                                               torch.tensor([[0., 0., 4., 4.]]))
    # sigma_2 is per part: part 3 interpolated (1, 1.5, 2.5), part 7 5, 0 on background
    torch.testing.assert_close(confs['sigma_2'][0][3], torch.tensor([1.0, 1.5, 2.5, 5.0]))
    assert confs['sigma_2'][0][:2].abs().sum() == 0
    # one-channel confidences are resized as they are (also on background)
    ref = F.interpolate(_constructed(True).fine_segm_confidence, (4, 4), mode='bilinear',
                        align_corners=False)[0, 0]
    torch.testing.assert_close(confs['fine_segm_confidence'][0], ref)


def test_box_sizes_truncate_in_the_box_dtype():
    boxes = torch.tensor([[0.5, 0.5, 1.0, 10.9], [3., 3., 3.2, 3.2], [1., 2., 41., 22.]])
    h, w = box_sizes(boxes)
    assert h.tolist() == [10, 1, 20] and w.tolist() == [1, 1, 40]


def _reference(out, boxes):
    """detectron2's decoding, one box at a time, with F.interpolate."""
    labels, uvs = [], []
    for i, box in enumerate(boxes):
        h, w = max(int(box[3] - box[1]), 1), max(int(box[2] - box[0]), 1)

        def up(x):
            return F.interpolate(x[i:i + 1], (h, w), mode='bilinear', align_corners=False)[0]

        lab = up(out.fine_segm).argmax(0) * (up(out.coarse_segm).argmax(0) > 0)
        u, v = up(out.u).gather(0, lab[None])[0], up(out.v).gather(0, lab[None])[0]
        labels.append(lab)
        uvs.append(torch.stack([u, v]) * (lab > 0))
    return labels, uvs


@pytest.mark.parametrize('channels_last', [False, True])
def test_matches_per_box_interpolation(channels_last):
    """Random maps (NCHW, or channels-last as a channels-last model's
    predictor gives them), boxes of many sizes: the labels of detectron2's
    per-box resize, U/V to float rounding, 0 off the parts."""
    g = torch.Generator().manual_seed(0)
    n = 6
    out = DensePoseChartPredictorOutput(*(torch.randn(n, c, 16, 16, generator=g)
                                          for c in (2, 25, 25, 25)))
    if channels_last:
        out = DensePoseChartPredictorOutput(
            *(m.contiguous(memory_format=torch.channels_last)
              for m in (out.coarse_segm, out.fine_segm, out.u, out.v)))
    xy = torch.rand(n, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + torch.tensor([[7.5, 40.], [33., 5.2], [16., 16.], [0.3, 9.],
                                              [60., 45.], [12.9, 70.]])], 1)
    labels, uv, _ = decode_charts_to_boxes(out, boxes)
    ref_labels, ref_uv = _reference(out, boxes)
    same = sum(int((a.long() == b).sum()) for a, b in zip(labels, ref_labels))
    total = sum(b.numel() for b in ref_labels)
    assert total > 4000 and same >= total - 2  # at most a rounding tie or two
    for a, b, la, lb in zip(uv, ref_uv, labels, ref_labels):
        assert a.shape == b.shape
        agree = la.long() == lb
        torch.testing.assert_close(a * agree, b * agree, atol=1e-4, rtol=0)
        assert a[:, la == 0].abs().sum() == 0


def test_linear_source_is_pytorch_bilinear():
    """Source rows and weights reproduce F.interpolate's 1-D resize
    (up and down, border clamping)."""
    g = torch.Generator().manual_seed(1)
    src = torch.randn(9, generator=g)
    for out_size in (1, 4, 9, 23):
        i0, i1, l1 = dec.linear_source(9, out_size, src.device)
        mine = src[i0] * (1 - l1) + src[i1] * l1
        ref = F.interpolate(src[None, None, None], (1, out_size), mode='bilinear',
                            align_corners=False)[0, 0, 0]
        torch.testing.assert_close(mine, ref, atol=1e-6, rtol=0)


def test_per_part_confidences_and_no_part_box():
    """A box without any part pixel: labels, U/V and per-part confidences
    all 0; the one-channel confidence still resized."""
    out = _constructed(True)
    out.coarse_segm = torch.zeros_like(out.coarse_segm)
    out.coarse_segm[:, 0] = 1.0  # background everywhere
    labels, uv, confs = decode_charts_to_boxes(out, torch.tensor([[0., 0., 3., 5.]]))
    assert labels[0].shape == (5, 3) and labels[0].sum() == 0
    assert uv[0].shape == (2, 5, 3) and uv[0].abs().sum() == 0
    assert confs['sigma_2'][0].abs().sum() == 0
    assert confs['fine_segm_confidence'][0].min() >= 1.0


def test_empty_and_mismatched_inputs():
    out = _constructed()
    assert decode_charts_to_boxes(out[:0], torch.zeros(0, 4)) == ([], [], {})
    with pytest.raises(ValueError, match='2 boxes but DensePose outputs for 1 RoIs'):
        decode_charts_to_boxes(out, torch.zeros(2, 4))
