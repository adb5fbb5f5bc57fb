# Copyright (c) mmdensekd contributors. All rights reserved.
"""RoI extractor that pools every RoI from a decoder's fused map."""
import copy
from typing import Optional, Tuple

from mmdet.models.roi_heads.roi_extractors import BaseRoIExtractor
from mmdet.utils import ConfigType, OptMultiConfig
from torch import Tensor

from mmdensekd.registry import MODELS


@MODELS.register_module()
class DecoderRoIExtractor(BaseRoIExtractor):
    """Run a decoder on the FPN levels, then pool all RoIs from its output.

    detectron2's DensePose branch with ``DECODER_ON=True``: the decoder
    (:class:`DensePoseDecoder`) fuses P2..P5 into one map at its
    ``common_stride`` and one ``roi_layer`` with ``spatial_scale = 1 /
    common_stride`` pools every box from it, whatever the box size. It takes
    the same arguments as mmdet's ``SingleRoIExtractor``, so an RoI head
    calls it as ``extractor(feats[:extractor.num_inputs], rois)``.

    Shape legend: ``M`` RoIs, ``S`` the ``roi_layer`` output size.

    Args:
        roi_layer (dict): RoI layer config, e.g. ``dict(type='RoIAlign',
            output_size=28, sampling_ratio=2, aligned=False)`` (no
            ``spatial_scale``: it is ``1 / decoder.common_stride``).
        out_channels (int): Channels of the pooled features; must equal the
            decoder's ``out_channels``.
        featmap_strides (list[int]): Strides of the decoder's input levels
            (P2..P5: ``[4, 8, 16, 32]``); their number is ``num_inputs``.
        decoder (dict): Decoder config, e.g. ``dict(type='DensePoseDecoder',
            in_channels=256, conv_channels=256, out_channels=256,
            common_stride=4)``. Its ``in_strides`` default to
            ``featmap_strides``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None (the decoder initialises itself).
    """

    def __init__(self,
                 roi_layer: ConfigType,
                 out_channels: int,
                 featmap_strides: list,
                 decoder: ConfigType = dict(type='DensePoseDecoder'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(roi_layer=roi_layer, out_channels=out_channels,
                         featmap_strides=featmap_strides, init_cfg=init_cfg)
        if not isinstance(decoder, dict) or 'type' not in decoder:
            raise TypeError(f'decoder must be a config dict with a type, got {decoder!r}')
        decoder = copy.deepcopy(decoder)
        strides = [int(s) for s in featmap_strides]
        if 'in_strides' not in decoder:
            decoder['in_strides'] = strides
        elif [int(s) for s in decoder['in_strides']] != strides:
            raise ValueError(f'decoder.in_strides {list(decoder["in_strides"])} differ from '
                             f'featmap_strides {strides}')
        self.decoder = MODELS.build(decoder)
        if self.decoder.out_channels != out_channels:
            raise ValueError(f'out_channels ({out_channels}) must equal decoder.out_channels '
                             f'({self.decoder.out_channels})')
        # one RoI layer, on the fused map
        self.roi_layers = self.build_roi_layers(roi_layer, [self.decoder.common_stride])

    def forward(self, feats: Tuple[Tensor, ...], rois: Tensor,
                roi_scale_factor: Optional[float] = None) -> Tensor:
        """Decode ``feats`` and pool ``rois`` from the fused map.

        Args:
            feats (tuple[Tensor]): ``num_inputs`` FPN levels, finest first.
            rois (Tensor): ``(M, 5)``, ``(batch_index, x1, y1, x2, y2)`` in
                input-image pixels.
            roi_scale_factor (float, optional): Rescale the RoIs about their
                centres before pooling. Defaults to None.

        Returns:
            Tensor: ``(M, out_channels, S, S)``.
        """
        fused = self.decoder(feats[:self.num_inputs])
        out_size = self.roi_layers[0].output_size
        if rois.size(0) == 0:
            # no RoI: an empty result still connected to the graph (DDP)
            return fused.new_zeros(0, self.out_channels, *out_size) + fused.sum() * 0.
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        return self.roi_layers[0](fused, rois)
