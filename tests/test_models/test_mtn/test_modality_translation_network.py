# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest
import torch

from mmdensekd.models.mtn import ModalityTranslationNetwork
from mmdensekd.registry import MODELS

SMALL = dict(encoder_dims=(32, 16), fusion_dims=(32, ), conv_channels=(8, 16))


def _inputs(shape, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *shape, generator=gen), torch.randn(batch, *shape, generator=gen)


def test_mmfi_layout_with_final_resize():
    mtn = MODELS.build(
        dict(type='ModalityTranslationNetwork', amp_shape=(3, 114, 10), out_size=(48, 64),
             **SMALL))
    assert isinstance(mtn, ModalityTranslationNetwork)
    # 6x6 bottleneck -> 3 deconvs -> 48x48, then bilinear resize to 48x64
    assert len(mtn.deconvs) == 3 and mtn.deconv_size == (48, 48)
    amp, phase = _inputs((3, 114, 10))
    out = mtn(amp, phase)
    assert out.shape == (2, 3, 48, 64)
    assert torch.isfinite(out).all()


def test_person_in_wifi_layout_exact_size_and_stacked_input():
    mtn = ModalityTranslationNetwork(amp_shape=(150, 3, 3), phase_shape=(150, 3, 3),
                                     out_size=96, out_channels=3, **SMALL).eval()
    assert mtn.deconv_size == (96, 96)
    amp, phase = _inputs((150, 3, 3), seed=1)
    out = mtn(amp, phase)
    assert out.shape == (2, 3, 96, 96)
    stacked = mtn(torch.stack([amp, phase], dim=1))
    torch.testing.assert_close(stacked, out)
    # amplitude and phase both matter
    assert not torch.allclose(mtn(amp, torch.zeros_like(phase)), out)


def test_paper_output_size_and_gradients():
    mtn = ModalityTranslationNetwork(amp_shape=(150, 3, 3), out_size=(720, 1280),
                                     fusion_channels=2, **SMALL)
    assert mtn.deconv_size == (384, 384)
    amp, phase = _inputs((150, 3, 3), batch=1, seed=2)
    out = mtn(amp, phase)
    assert out.shape == (1, 3, 720, 1280)
    out.mean().backward()
    missing = [n for n, p in mtn.named_parameters() if p.grad is None]
    assert missing == []


def test_explicit_deconvs_and_channels():
    mtn = ModalityTranslationNetwork(amp_shape=(150, 3, 3), out_size=(30, 40), num_deconvs=2,
                                     out_channels=5, **SMALL)
    assert [m.conv.out_channels for m in mtn.deconvs] == [16, 16]
    assert mtn(*_inputs((150, 3, 3))).shape == (2, 5, 30, 40)


def test_shape_errors():
    mtn = ModalityTranslationNetwork(amp_shape=(3, 114, 10), out_size=24, **SMALL)
    amp, phase = _inputs((3, 114, 10))
    with pytest.raises(ValueError, match=r'expected amplitude of shape \(B, 3, 114, 10\)'):
        mtn(amp[:, :, :30], phase)
    with pytest.raises(ValueError, match=r'expected phase of shape \(B, 3, 114, 10\)'):
        mtn(amp, phase[..., :5])
    with pytest.raises(ValueError, match=r'\(B, 2, 3, 114, 10\)'):
        mtn(amp)
    with pytest.raises(ValueError, match='batch sizes differ'):
        mtn(amp, phase[:1])
    mixed = ModalityTranslationNetwork(amp_shape=(150, 3, 3), phase_shape=(3, 114, 10),
                                       out_size=24, **SMALL)
    with pytest.raises(ValueError, match='equal amp_shape and phase_shape'):
        mixed(torch.zeros(1, 2, 150, 3, 3))


def test_config_errors():
    with pytest.raises(ValueError, match='fusion_size'):
        ModalityTranslationNetwork(fusion_size=22, out_size=24, **SMALL)
    with pytest.raises(ValueError, match='conv_channels'):
        ModalityTranslationNetwork(out_size=24, encoder_dims=(8, ), conv_channels=(8, 8, 8))
    with pytest.raises(ValueError, match='num_deconvs'):
        ModalityTranslationNetwork(out_size=24, num_deconvs=1, deconv_channels=(8, 8), **SMALL)


def test_csi_layout_sets_the_input_shape():
    mtn = ModalityTranslationNetwork(csi_layout='person-in-wifi-3d', out_size=24, **SMALL)
    assert mtn.amp_shape == mtn.phase_shape == (3, 150, 3)
    assert mtn(torch.zeros(2, 2, 3, 150, 3)).shape == (2, 3, 24, 24)
    assert ModalityTranslationNetwork(csi_layout='ps,t,r:20,30,3,3', out_size=24,
                                      **SMALL).amp_shape == (600, 3, 3)
    same = ModalityTranslationNetwork(csi_layout='mmfi', amp_shape=(3, 114, 10), out_size=24,
                                      **SMALL)
    assert same.amp_shape == (3, 114, 10)
    with pytest.raises(ValueError, match="disagrees with csi_layout 'person-in-wifi-3d'"):
        ModalityTranslationNetwork(csi_layout='person-in-wifi-3d', amp_shape=(150, 3, 3),
                                   out_size=24, **SMALL)
    with pytest.raises(ValueError, match='unknown CSI layout'):
        ModalityTranslationNetwork(csi_layout='wifi-9000', out_size=24, **SMALL)
