# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch

from mmdensekd.models.heads import DensePoseChartPredictor, DensePoseV1ConvXHead
from mmdensekd.structures import DensePoseChartPredictorOutput


@pytest.mark.parametrize('pool,coarse,out_size', [(28, 2, 112), (14, 15, 56)])
def test_predictor_output_shapes(pool, coarse, out_size):
    """s1x (28 -> 112, 2 coarse channels) and legacy (14 -> 56, 15)."""
    head = DensePoseV1ConvXHead(in_channels=8, num_convs=2, conv_channels=16)
    predictor = DensePoseChartPredictor(in_channels=16, num_coarse_segm_channels=coarse)
    feats = head(torch.randn(3, 8, pool, pool))
    assert feats.shape == (3, 16, pool, pool)
    out = predictor(feats)
    assert isinstance(out, DensePoseChartPredictorOutput)
    assert out.coarse_segm.shape == (3, coarse, out_size, out_size)
    for t in (out.fine_segm, out.u, out.v):
        assert t.shape == (3, 25, out_size, out_size)
    assert len(out) == 3 and len(out[1:]) == 2 and out[0].fine_segm.shape[0] == 1


def test_default_head_is_detectron2_recipe():
    head = DensePoseV1ConvXHead()
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 8
    assert convs[0].in_channels == 256 and all(c.out_channels == 512 for c in convs)
    assert all(c.kernel_size == (3, 3) for c in convs)


def test_invalid_arguments():
    with pytest.raises(ValueError, match='num_coarse_segm_channels'):
        DensePoseChartPredictor(num_coarse_segm_channels=3)
    with pytest.raises(ValueError, match='kernel_size'):
        DensePoseV1ConvXHead(kernel_size=2)


def _const_bias(layer, value):
    """Zero weights and a constant bias: the layer outputs ``value``."""
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.constant_(layer.bias, value)


@pytest.mark.parametrize('uv,segm,layers', [
    ('iid_iso', False, ['sigma_2_lowres']),
    ('indep_aniso', False, ['sigma_2_lowres', 'kappa_u_lowres', 'kappa_v_lowres']),
    ('iid_iso', True, ['sigma_2_lowres', 'fine_segm_confidence_lowres',
                       'coarse_segm_confidence_lowres']),
    (None, True, ['fine_segm_confidence_lowres', 'coarse_segm_confidence_lowres']),
])
def test_confidence_layers_and_outputs(uv, segm, layers):
    """detectron2's layer names and output channels (25 per part, 1 for
    segmentation); the confidence fields absent from the model stay None."""
    predictor = DensePoseChartPredictor(in_channels=4, uv_confidence=uv, segm_confidence=segm)
    base = DensePoseChartPredictor(in_channels=4)
    extra = sorted({k.rsplit('.', 1)[0] for k in predictor.state_dict()} -
                   {k.rsplit('.', 1)[0] for k in base.state_dict()})
    assert extra == sorted(layers)
    out = predictor(torch.randn(2, 4, 7, 7))
    names = {'sigma_2_lowres': 'sigma_2', 'kappa_u_lowres': 'kappa_u',
             'kappa_v_lowres': 'kappa_v',
             'fine_segm_confidence_lowres': 'fine_segm_confidence',
             'coarse_segm_confidence_lowres': 'coarse_segm_confidence'}
    assert sorted(out.confidences()) == sorted(names[n] for n in layers)
    for name, maps in out.confidences().items():
        assert maps.shape == (2, 1 if 'segm' in name else 25, 28, 28)
    # indexing and to() keep the confidences (and the Nones)
    sub = out[1:]
    assert sorted(sub.confidences()) == sorted(out.confidences()) and len(sub) == 1
    assert out.sigma_1 is None and out.to(torch.float64).u.dtype == torch.float64


def test_sigma_is_softplus_plus_lower_bound():
    """Constant raw outputs b: segmentation confidences softplus(b) + 0.01
    (and the scores multiplied by them); U/V variance softplus(b) + eps."""
    predictor = DensePoseChartPredictor(in_channels=4, uv_confidence='iid_iso',
                                        segm_confidence=True, segm_confidence_epsilon=0.01,
                                        uv_confidence_epsilon=0.05)
    plain = DensePoseChartPredictor(in_channels=4)
    plain.load_state_dict(predictor.state_dict(), strict=False)
    _const_bias(predictor.fine_segm_confidence_lowres, 0.0)
    _const_bias(predictor.coarse_segm_confidence_lowres, 2.0)
    _const_bias(predictor.sigma_2_lowres, -1.0)
    x = torch.randn(3, 4, 7, 7)
    out, ref = predictor(x), plain(x)
    log2 = torch.log(torch.tensor(2.0))
    torch.testing.assert_close(out.fine_segm_confidence, torch.full_like(
        out.fine_segm_confidence, float(log2) + 0.01))
    coarse_conf = float(torch.log1p(torch.exp(torch.tensor(2.0)))) + 0.01
    torch.testing.assert_close(out.coarse_segm_confidence,
                               torch.full_like(out.coarse_segm_confidence, coarse_conf))
    torch.testing.assert_close(out.fine_segm, ref.fine_segm * (float(log2) + 0.01))
    torch.testing.assert_close(out.coarse_segm, ref.coarse_segm * coarse_conf)
    torch.testing.assert_close(out.u, ref.u)
    # sigma_2 stays raw; the variance adds the U/V lower bound
    torch.testing.assert_close(out.sigma_2, torch.full_like(out.sigma_2, -1.0))
    variance = predictor.uv_variance(torch.tensor([0.0, 30.0, -30.0]))
    torch.testing.assert_close(variance, torch.tensor([float(log2) + 0.05, 30.05, 0.05]))
    with pytest.raises(ValueError, match='uv_confidence'):
        DensePoseChartPredictor(uv_confidence='iso')
