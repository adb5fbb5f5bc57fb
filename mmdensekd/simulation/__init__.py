# Copyright (c) mmdensekd contributors. All rights reserved.
"""A simulated camera + WiFi world with exact DensePose ground truth.

Articulated primitive bodies (:mod:`.body`, :mod:`.poses`) stand in rooms
(:mod:`.scene`); a pinhole z-buffer ray caster renders frames and exact
person / part / U / V labels (:mod:`.renderer`, :mod:`.appearance`), from
which DensePose-COCO annotations are made (:mod:`.annotations`); a geometric
multipath channel gives the WiFi CSI of the same scene at one or several
receivers (:mod:`.wifi_channel`); people who move perform activities over a
sequence of frames (:mod:`.sequences`);
:mod:`.eval_data` writes the geodesic evaluation files of the synthetic body
and :func:`generate_dataset` (:mod:`.writer`) writes a whole paired dataset.
"""
from .body import BodyShape, Primitives, build_body, surface_iuv
from .eval_data import build_geodesics, write_eval_data
from .renderer import Camera, cast_points, render_labels
from .scene import make_layout, sample_frame
from .sequences import ACTIVITIES, sample_sequence, sequence_people
from .wifi_channel import ChannelConfig, channel_response, simulate_csi
from .writer import SENSING, generate_dataset, make_frame

__all__ = [
    'BodyShape', 'Primitives', 'build_body', 'surface_iuv', 'build_geodesics',
    'write_eval_data', 'Camera', 'cast_points', 'render_labels', 'make_layout', 'sample_frame',
    'ChannelConfig', 'channel_response', 'simulate_csi', 'generate_dataset',
    'make_frame', 'ACTIVITIES', 'sample_sequence', 'sequence_people', 'SENSING'
]
