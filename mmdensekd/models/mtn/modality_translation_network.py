# Copyright (c) mmdensekd contributors. All rights reserved.
"""Modality Translation Network: WiFi CSI -> image-like tensor.

Shape legend: ``B`` batch size, ``A``/``P`` the per-sample amplitude/phase
shape (e.g. ``(3, 114, 10)`` = antenna x subcarrier x packet for MM-Fi,
``(150, 3, 3)`` = (packet x subcarrier) x tx x rx for Person-in-WiFi),
``C`` output channels, ``H``/``W`` output height/width.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.model import BaseModule

from mmdensekd.registry import MODELS
from mmdensekd.structures.csi_layout import parse_layout

SizeType = Union[int, Sequence[int]]


def _to_pair(value: SizeType, key: str) -> Tuple[int, int]:
    """Turn an int or a 2-sequence of positive ints into a pair."""
    if isinstance(value, int):
        pair = (value, value)
    elif isinstance(value, Sequence) and len(value) == 2:
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f'`{key}` must be an int or a pair of ints, got {value!r}')
    if min(pair) <= 0:
        raise ValueError(f'`{key}` must be positive, got {value!r}')
    return pair


def _to_shape(value: Sequence[int], key: str) -> Tuple[int, ...]:
    """Validate a per-sample tensor shape given in the config."""
    if not isinstance(value, Sequence) or len(value) == 0:
        raise TypeError(f'`{key}` must be a non-empty sequence of ints, got {value!r}')
    shape = tuple(int(v) for v in value)
    if min(shape) <= 0:
        raise ValueError(f'`{key}` must contain positive sizes, got {value!r}')
    return shape


def _build_mlp(in_dim: int, dims: Sequence[int], act_cfg: dict,
               last_act: bool = True) -> nn.Sequential:
    """Linear layers ``in_dim -> dims[0] -> ... -> dims[-1]`` with activations."""
    layers: List[nn.Module] = []
    for i, out_dim in enumerate(dims):
        layers.append(nn.Linear(in_dim, out_dim))
        if last_act or i < len(dims) - 1:
            layers.append(build_activation_layer(act_cfg))
        in_dim = out_dim
    return nn.Sequential(*layers)


@MODELS.register_module()
class ModalityTranslationNetwork(BaseModule):
    """Translate CSI amplitude and phase into a 3-channel image-like tensor.

    Structure (DensePose From WiFi, Geng et al. 2023): amplitude and phase
    are each flattened and encoded by their own MLP; the two codes are
    concatenated and fused by an MLP whose output is reshaped to a
    ``fusion_channels x 24 x 24`` map; two stride-2 conv blocks bring it
    to 6x6; stride-2 deconvolutions upsample it; a 3x3 conv projects to
    ``out_channels``. When ``out_size`` is not ``6 * 2**n`` (e.g. the
    paper's 720x1280) the result is bilinearly resized to exactly
    ``out_size``.

    Args:
        amp_shape (Sequence[int], optional): Per-sample amplitude shape ``A``.
            None: MM-Fi's ``(3, 114, 10)`` (or ``csi_layout``'s).
        phase_shape (Sequence[int], optional): Per-sample phase shape
            ``P``. Defaults to ``amp_shape``.
        encoder_dims (Sequence[int]): Hidden/output sizes of each
            modality's MLP encoder. Defaults to ``(512, 256)``.
        fusion_dims (Sequence[int]): Hidden sizes of the fusion MLP; a last
            linear layer to ``fusion_channels * fusion_size`` is appended.
            Defaults to ``(512,)``.
        fusion_channels (int): Channels of the reshaped fused map.
            Defaults to 1.
        fusion_size (int | Sequence[int]): Spatial size of the reshaped
            fused map; must be divisible by 4. Defaults to 24.
        conv_channels (Sequence[int]): Output channels of the two stride-2
            conv blocks. Defaults to ``(64, 128)``.
        num_deconvs (int, optional): Number of stride-2 deconvolutions.
            ``None`` picks the largest ``n`` with ``bottleneck * 2**n``
            not exceeding ``out_size`` on either side.
        deconv_channels (Sequence[int], optional): Output channels of the
            deconvolutions (its length fixes their number). ``None`` halves
            ``conv_channels[-1]`` at each step, never below 16.
        out_channels (int): Output channels ``C``. Defaults to 3.
        out_size (int | Sequence[int]): Output ``(H, W)``.
            Defaults to ``(720, 1280)`` as in the paper.
        norm_cfg (dict, optional): Norm layer of the conv/deconv blocks.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of MLPs and conv blocks.
            Defaults to ``dict(type='ReLU')``.
        csi_layout (str | dict, optional): The sensing layout (a name of
            :data:`~mmdensekd.structures.csi_layout.CSI_LAYOUTS` such as
            ``'person-in-wifi-3d'``, an ``'AXES:P,S,T,R[,L]'`` spec or a
            dict, see :func:`~mmdensekd.structures.csi_layout.parse_layout`);
            sets ``amp_shape`` and ``phase_shape`` to its per-frame shape
            (giving a different ``amp_shape`` too is an error).
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 amp_shape: Optional[Sequence[int]] = None,
                 phase_shape: Optional[Sequence[int]] = None,
                 encoder_dims: Sequence[int] = (512, 256),
                 fusion_dims: Sequence[int] = (512, ),
                 fusion_channels: int = 1,
                 fusion_size: SizeType = 24,
                 conv_channels: Sequence[int] = (64, 128),
                 num_deconvs: Optional[int] = None,
                 deconv_channels: Optional[Sequence[int]] = None,
                 out_channels: int = 3,
                 out_size: SizeType = (720, 1280),
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 csi_layout: Optional[Union[str, dict]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if csi_layout is not None:
            shape = parse_layout(csi_layout).shape
            for key, value in (('amp_shape', amp_shape), ('phase_shape', phase_shape)):
                if value is not None and tuple(value) != shape:
                    raise ValueError(f'`{key}` {tuple(value)} disagrees with csi_layout '
                                     f'{csi_layout!r} of shape {shape}')
            amp_shape, phase_shape = shape, None
        self.amp_shape = _to_shape((3, 114, 10) if amp_shape is None else amp_shape,
                                   'amp_shape')
        self.phase_shape = (self.amp_shape if phase_shape is None else
                            _to_shape(phase_shape, 'phase_shape'))
        if len(encoder_dims) == 0:
            raise ValueError('`encoder_dims` must not be empty')
        if fusion_channels <= 0 or out_channels <= 0:
            raise ValueError('`fusion_channels` and `out_channels` must be positive, got '
                             f'{fusion_channels} and {out_channels}')
        self.fusion_size = _to_pair(fusion_size, 'fusion_size')
        if self.fusion_size[0] % 4 or self.fusion_size[1] % 4:
            raise ValueError('`fusion_size` must be divisible by 4 (two stride-2 conv '
                             f'blocks), got {fusion_size!r}')
        if len(conv_channels) != 2:
            raise ValueError(f'`conv_channels` must have 2 entries, got {conv_channels!r}')
        self.out_size = _to_pair(out_size, 'out_size')
        self.fusion_channels = fusion_channels
        self.out_channels = out_channels

        amp_dim = math.prod(self.amp_shape)
        phase_dim = math.prod(self.phase_shape)
        self.amp_encoder = _build_mlp(amp_dim, encoder_dims, act_cfg)
        self.phase_encoder = _build_mlp(phase_dim, encoder_dims, act_cfg)
        fused_dim = fusion_channels * self.fusion_size[0] * self.fusion_size[1]
        self.fusion = _build_mlp(2 * encoder_dims[-1], list(fusion_dims) + [fused_dim],
                                 act_cfg)

        in_ch = fusion_channels
        convs = []
        for ch in conv_channels:
            convs.append(
                ConvModule(in_ch, ch, 3, stride=2, padding=1, norm_cfg=norm_cfg,
                           act_cfg=act_cfg))
            in_ch = ch
        self.convs = nn.Sequential(*convs)

        bottleneck = (self.fusion_size[0] // 4, self.fusion_size[1] // 4)
        deconv_channels = self._resolve_deconvs(bottleneck, num_deconvs, deconv_channels,
                                                conv_channels[-1])
        deconvs = []
        for ch in deconv_channels:
            deconvs.append(
                ConvModule(in_ch, ch, 4, stride=2, padding=1, conv_cfg=dict(type='deconv'),
                           norm_cfg=norm_cfg, act_cfg=act_cfg))
            in_ch = ch
        self.deconvs = nn.Sequential(*deconvs)
        self.out_conv = nn.Conv2d(in_ch, out_channels, 3, padding=1)
        scale = 2**len(deconv_channels)
        self.deconv_size = (bottleneck[0] * scale, bottleneck[1] * scale)

    def _resolve_deconvs(self, bottleneck: Tuple[int, int], num_deconvs: Optional[int],
                         deconv_channels: Optional[Sequence[int]],
                         base_channels: int) -> List[int]:
        """Work out the output channels of each deconvolution."""
        if deconv_channels is not None:
            if num_deconvs is not None and num_deconvs != len(deconv_channels):
                raise ValueError(f'`num_deconvs` ({num_deconvs}) disagrees with '
                                 f'len(`deconv_channels`) ({len(deconv_channels)})')
            return [int(c) for c in deconv_channels]
        if num_deconvs is None:
            ratio = min(self.out_size[0] / bottleneck[0], self.out_size[1] / bottleneck[1])
            num_deconvs = max(0, int(math.floor(math.log2(ratio) + 1e-9))) if ratio >= 1 else 0
        if num_deconvs < 0:
            raise ValueError(f'`num_deconvs` must be >= 0, got {num_deconvs}')
        return [max(base_channels // 2**(i + 1), 16) for i in range(num_deconvs)]

    def _check(self, tensor: torch.Tensor, expected: Tuple[int, ...], name: str) -> None:
        """Raise a ValueError naming the expected shape when ``tensor`` is off."""
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f'ModalityTranslationNetwork: {name} must be a torch.Tensor, '
                            f'got {type(tensor)}')
        if tensor.dim() != len(expected) + 1 or tuple(tensor.shape[1:]) != expected:
            raise ValueError(f'ModalityTranslationNetwork: expected {name} of shape '
                             f'(B, {", ".join(map(str, expected))}), got '
                             f'{tuple(tensor.shape)}')

    def forward(self, amplitude: torch.Tensor,
                phase: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Translate a batch of CSI samples.

        Args:
            amplitude (Tensor): ``(B, *A)`` amplitudes, or, when ``phase`` is
                None and ``A == P``, the stacked ``(B, 2, *A)`` tensor of
                (amplitude, phase) that the CSI pipeline produces.
            phase (Tensor, optional): ``(B, *P)`` sanitised phases.

        Returns:
            Tensor: ``(B, C, H, W)`` image-like tensor.
        """
        if phase is None:
            if self.amp_shape != self.phase_shape:
                raise ValueError('ModalityTranslationNetwork: a single stacked input needs '
                                 'equal amp_shape and phase_shape, got '
                                 f'{self.amp_shape} and {self.phase_shape}; pass '
                                 'amplitude and phase separately')
            self._check(amplitude, (2, ) + self.amp_shape, 'stacked (amplitude, phase)')
            amplitude, phase = amplitude[:, 0], amplitude[:, 1]
        self._check(amplitude, self.amp_shape, 'amplitude')
        self._check(phase, self.phase_shape, 'phase')
        if amplitude.shape[0] != phase.shape[0]:
            raise ValueError('ModalityTranslationNetwork: amplitude and phase batch sizes '
                             f'differ ({amplitude.shape[0]} vs {phase.shape[0]})')

        batch = amplitude.shape[0]
        amp_code = self.amp_encoder(amplitude.flatten(1))
        phase_code = self.phase_encoder(phase.flatten(1))
        fused = self.fusion(torch.cat([amp_code, phase_code], dim=1))
        x = fused.view(batch, self.fusion_channels, *self.fusion_size)
        x = self.out_conv(self.deconvs(self.convs(x)))
        if tuple(x.shape[-2:]) != self.out_size:
            x = F.interpolate(x, size=self.out_size, mode='bilinear', align_corners=False)
        return x
