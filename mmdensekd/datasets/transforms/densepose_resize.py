# Copyright (c) mmdensekd contributors. All rights reserved.
"""Resize that keeps keypoints and DensePose targets consistent."""
import numpy as np
from mmdet.datasets.transforms import Resize

from mmdensekd.registry import TRANSFORMS

from .densepose_geometry import remap_densepose, validate_geometric_targets


@TRANSFORMS.register_module()
class DensePoseResize(Resize):
    """mmdet :class:`Resize` that also handles keypoints and DensePose.

    - ``gt_keypoints`` (N, K, 2) are scaled with the image; with
      ``clip_object_border=True`` a keypoint that ends up outside the image is
      marked invisible in ``gt_keypoints_visible`` (its position is kept).
    - ``gt_densepose`` is expressed in the 256x256 box frame and so does not
      change with the scale. When ``clip_object_border=True`` clips a box to
      the image, its points and segmentation are remapped into the frame of
      the clipped box (points keep their image position; points outside the
      clipped box are dropped; the segmentation is resampled), so the targets
      never silently fall out of step with the box.

    Args:
        **kwargs: Arguments of :class:`mmdet.datasets.transforms.Resize`
            (``scale``, ``scale_factor``, ``keep_ratio``,
            ``clip_object_border``, ``backend``, ``interpolation``).
    """

    def _resize_bboxes(self, results: dict) -> None:
        """Scale and clip boxes; remap DensePose targets of clipped boxes."""
        bboxes = results.get('gt_bboxes', None)
        if bboxes is None:
            return
        bboxes.rescale_(results['scale_factor'])
        if not self.clip_object_border:
            return
        before = bboxes.tensor.detach().cpu().numpy().copy()
        bboxes.clip_(results['img_shape'])
        densepose = results.get('gt_densepose', None)
        if densepose is not None and len(densepose) > 0:
            after = bboxes.tensor.detach().cpu().numpy()
            results['gt_densepose'] = remap_densepose(densepose, before, after)

    def _resize_keypoints(self, results: dict) -> None:
        """Scale ``gt_keypoints`` with ``results['scale_factor']``."""
        kpts = results.get('gt_keypoints', None)
        if kpts is None:
            return
        w_scale, h_scale = results['scale_factor']
        kpts = np.asarray(kpts, dtype=np.float32) * np.array([w_scale, h_scale],
                                                             dtype=np.float32)
        results['gt_keypoints'] = kpts
        if self.clip_object_border and results.get('gt_keypoints_visible') is not None:
            h, w = results['img_shape'][:2]
            inside = ((kpts[..., 0] >= 0) & (kpts[..., 0] <= w) & (kpts[..., 1] >= 0)
                      & (kpts[..., 1] <= h))
            results['gt_keypoints_visible'] = (results['gt_keypoints_visible']
                                               * inside).astype(np.float32)

    def transform(self, results: dict) -> dict:
        """Resize the image, boxes, masks, keypoints and DensePose targets.

        Args:
            results (dict): Result dict from the loading pipeline.

        Returns:
            dict: ``results`` resized; ``scale``, ``scale_factor``,
            ``img_shape`` and ``keep_ratio`` set as by mmdet's ``Resize``.

        Raises:
            ValueError: A resized box is degenerate or a target is not
                finite (see :func:`validate_geometric_targets`).
        """
        results = super().transform(results)
        self._resize_keypoints(results)
        return validate_geometric_targets(results, type(self).__name__)
