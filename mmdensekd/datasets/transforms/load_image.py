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

    Required keys: ``img_path`` (and ``img_id`` for the messages).
    Added keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        **kwargs: Arguments of :class:`mmcv.transforms.LoadImageFromFile`
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``ignore_empty``, ``backend_args``).
    """

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
        return loaded
