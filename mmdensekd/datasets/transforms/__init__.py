# Copyright (c) mmdensekd contributors. All rights reserved.
from .csi_transforms import CSIPhaseSanitize, LoadCSIFromFile, PackCSI
from .densepose_flip import DensePoseRandomFlip
from .densepose_geometry import UV_SYMMETRY_URL, hflip_densepose, load_uv_symmetry, remap_densepose
from .densepose_resize import DensePoseResize
from .formatting import PackDensePoseInputs
from .load_image import LoadImageFromFileWithId
from .loading import LoadDensePoseAnnotations, merge_dp_masks

__all__ = [
    'LoadDensePoseAnnotations',
    'LoadImageFromFileWithId',
    'DensePoseResize',
    'DensePoseRandomFlip',
    'PackDensePoseInputs',
    'load_uv_symmetry',
    'hflip_densepose',
    'remap_densepose',
    'merge_dp_masks',
    'UV_SYMMETRY_URL',
    'LoadCSIFromFile',
    'CSIPhaseSanitize',
    'PackCSI',
]
