# Copyright (c) mmdensekd contributors. All rights reserved.
"""Horizontal flip that keeps keypoints and DensePose targets consistent."""
from typing import Optional, Sequence, Union

import numpy as np
from mmdet.datasets.transforms import RandomFlip

from mmdensekd.registry import TRANSFORMS

from ..coco_keypoints import COCO_KEYPOINT_FLIP_INDICES
from .densepose_geometry import (
    UV_SYMMETRY_URL,
    hflip_densepose,
    load_uv_symmetry,
    validate_geometric_targets,
)


@TRANSFORMS.register_module()
class DensePoseRandomFlip(RandomFlip):
    """Random horizontal flip of the image, boxes, keypoints and DensePose.

    Flips as mmdet's :class:`RandomFlip` (image, boxes, masks, seg map), and:

    - ``gt_keypoints`` (N, K, 2): ``x' = w - x`` (the box convention), then
      left/right keypoints swapped through ``keypoint_flip_indices``
      (``gt_keypoints_visible`` swapped alike);
    - ``gt_densepose``: in the 256x256 box frame ``x' = 256 - x`` (the image
      of a point at ``x0 + x * w / 256`` lands at ``x0' + (256 - x) * w / 256``
      in the mirrored box), ``I' = FINE_PART_FLIP[I]``, ``U'``/``V'`` read from
      the UV symmetry table of the original part, the segmentation's columns
      reversed and its labels swapped through ``COARSE_PART_FLIP``.

    Only horizontal flips are supported (a vertical flip has no DensePose
    meaning). Mirroring U/V needs ``UV_symmetry_transforms.mat`` (from
    https://dl.fbaipublicfiles.com/densepose/data/UV_symmetry_transforms.mat):
    with ``prob > 0`` it is required and loaded at construction, unless
    ``flip_densepose=False`` (keypoint-only training); DensePose annotations
    are never flipped without it (a sample carrying them raises).

    Args:
        prob (float | list[float], optional): Flip probability.
        direction (str | list[str]): Must be ``'horizontal'``.
        uv_symmetry_file (str, optional): Local path of
            ``UV_symmetry_transforms.mat`` (cells ``U_transforms`` and
            ``V_transforms`` of 24 arrays 256x256). Required when ``prob > 0``.
        keypoint_flip_indices (Sequence[int]): ``kpts[:, idx]`` swaps left and
            right keypoints. Defaults to the COCO order.
        flip_densepose (bool): Whether DensePose targets are expected. When
            False the symmetry table is not required. Defaults to True.
    """

    def __init__(self,
                 prob: Optional[Union[float, Sequence[float]]] = None,
                 direction: Union[str, Sequence[str]] = 'horizontal',
                 uv_symmetry_file: Optional[str] = None,
                 keypoint_flip_indices: Sequence[int] = COCO_KEYPOINT_FLIP_INDICES,
                 flip_densepose: bool = True) -> None:
        directions = [direction] if isinstance(direction, str) else list(direction)
        if directions != ['horizontal']:
            raise ValueError("DensePoseRandomFlip: direction must be 'horizontal' "
                             f'(DensePose has no vertical symmetry), got {direction!r}')
        super().__init__(prob=prob, direction=direction)
        total_prob = sum(prob) if isinstance(prob, (list, tuple)) else prob
        self.uv_symmetry_file = uv_symmetry_file
        self.uv_symmetry = None
        if uv_symmetry_file is not None:
            self.uv_symmetry = load_uv_symmetry(uv_symmetry_file)
        elif total_prob > 0 and flip_densepose:
            raise ValueError(
                'DensePoseRandomFlip: uv_symmetry_file is required when prob > 0 '
                '(flipping DensePose mirrors U/V through UV_symmetry_transforms.mat; '
                f'download it from {UV_SYMMETRY_URL} and pass its local path)')
        indices = np.asarray(keypoint_flip_indices, dtype=np.int64)
        if sorted(indices.tolist()) != list(range(len(indices))):
            raise ValueError('DensePoseRandomFlip: keypoint_flip_indices must be a '
                             f'permutation of 0..K-1, got {list(keypoint_flip_indices)}')
        self.keypoint_flip_indices = indices

    def _flip_keypoints_lr(self, results: dict) -> None:
        kpts = results.get('gt_keypoints', None)
        if kpts is None:
            return
        kpts = np.asarray(kpts, dtype=np.float32)
        if kpts.shape[-2] != len(self.keypoint_flip_indices):
            raise ValueError(f'DensePoseRandomFlip: gt_keypoints has {kpts.shape[-2]} '
                             f'keypoints, keypoint_flip_indices has '
                             f'{len(self.keypoint_flip_indices)}')
        w = results['img'].shape[1]
        flipped = kpts.copy()
        flipped[..., 0] = w - kpts[..., 0]
        results['gt_keypoints'] = flipped[:, self.keypoint_flip_indices]
        visible = results.get('gt_keypoints_visible', None)
        if visible is not None:
            results['gt_keypoints_visible'] = np.asarray(visible)[:,
                                                                  self.keypoint_flip_indices]

    def _flip(self, results: dict) -> None:
        """Flip the image, boxes, masks, keypoints and DensePose targets."""
        super()._flip(results)
        self._flip_keypoints_lr(results)
        densepose = results.get('gt_densepose', None)
        if densepose is not None and bool(densepose.has_dp.any() or densepose.has_segm.any()):
            if self.uv_symmetry is None:
                raise RuntimeError(
                    'DensePoseRandomFlip: refusing to flip DensePose targets without '
                    f'the UV symmetry table; set uv_symmetry_file ({UV_SYMMETRY_URL})')
            results['gt_densepose'] = hflip_densepose(densepose, self.uv_symmetry)
        validate_geometric_targets(results, type(self).__name__)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction}, '
                f'uv_symmetry_file={self.uv_symmetry_file!r})')
