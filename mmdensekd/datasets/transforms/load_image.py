# Copyright (c) mmdensekd contributors. All rights reserved.
"""Image loading whose errors name the image id and path."""
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmengine import fileio

from mmdensekd.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageFromFileWithId(LoadImageFromFile):
    """:class:`mmcv.transforms.LoadImageFromFile` with named errors.

    A missing, unreadable or undecodable image raises an error naming the path
    and the image id (``results['img_id']``) instead of the anonymous backend
    error. ``ignore_empty=True`` keeps mmcv's behaviour (return None, so the
    dataset samples another image).

    When the data info carries the annotation's ``width`` and ``height`` (a
    COCO image entry), the decoded image must have exactly that size: a file
    of another size (a thumbnail, a re-encoded or rotated copy) would misplace
    every box, keypoint and DensePose point, so it raises a ``ValueError``
    naming the file, the image id and both sizes (a data error that
    ``skip_invalid_densepose=True`` counts and skips in training).

    Required keys: ``img_path`` (and ``img_id`` for the messages; ``width``
    and ``height`` for the size check).
    Added keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        check_size (bool): Compare the image with the annotation's width and
            height. Defaults to True.
        **kwargs: Arguments of :class:`mmcv.transforms.LoadImageFromFile`
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``ignore_empty``, ``backend_args``).
    """

    def __init__(self, check_size: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.check_size = check_size

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``.

        Args:
            results (dict): Data info with ``img_path`` and ``img_id``.

        Returns:
            dict | None: ``results`` with the image, or None when the image
            cannot be read and ``ignore_empty`` is True.

        Raises:
            FileNotFoundError: The image file does not exist.
            OSError: The file exists but cannot be read or decoded.
            ValueError: The image's size differs from the annotation's.
        """
        path = results['img_path']
        img_id = results.get('img_id')
        try:
            exists = fileio.exists(path, backend_args=self.backend_args)
        except Exception:  # a backend without ``exists``: let loading decide
            exists = True
        if not exists:
            if self.ignore_empty:
                return None
            raise FileNotFoundError(f'image file {path} of image id {img_id} does not '
                                    'exist')
        try:
            loaded = super().transform(results)
        except Exception as err:
            raise OSError(f'cannot load image file {path} of image id {img_id}: '
                          f'{type(err).__name__}: {err}') from err
        if loaded is not None and self.check_size:
            self._check_size(loaded, path, img_id)
        return loaded

    @staticmethod
    def _check_size(results: dict, path: str, img_id) -> None:
        width, height = results.get('width'), results.get('height')
        if width is None or height is None:
            return
        h, w = results['img'].shape[:2]
        if (int(w), int(h)) != (int(round(float(width))), int(round(float(height)))):
            raise ValueError(
                f'image file {path} of image id {img_id} is {w}x{h} pixels but its '
                f'annotation says width {width}, height {height}: its boxes, keypoints '
                'and DensePose points would be misplaced; use the original image or fix '
                'the annotation')
