# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose-COCO annotations paired with WiFi CSI files."""
import json
import os.path as osp
from typing import List, Optional, Union

from mmdensekd.registry import DATASETS
from mmdensekd.structures.csi_layout import parse_layout

from .densepose_coco import DensePoseCocoDataset


@DATASETS.register_module()
class PairedWiFiDensePoseDataset(DensePoseCocoDataset):
    """DensePose-COCO json whose image entries also name a CSI file.

    Convention: every entry of ``images`` carries, besides the usual COCO
    fields, ``csi_file``: the path of the synchronised CSI recording relative
    to ``data_prefix['csi']`` (itself relative to ``data_root``)::

        {"id": 7, "file_name": "frames/0007.jpg", "csi_file": "csi/0007.mat",
         "height": 720, "width": 1280}

    The image is at ``data_prefix['img'] / file_name`` and the CSI at
    ``data_prefix['csi'] / csi_file``; ``data_info['csi_path']`` carries the
    latter for the CSI loading transform. Annotations are the (pseudo) ground
    truth of the image, in DensePose-COCO format (see
    :class:`DensePoseCocoDataset`).

    Args:
        csi_layout (str | dict, optional): The sensing layout the config
            expects (see :func:`~mmdensekd.structures.csi_layout.parse_layout`).
            When ``data_root`` holds a generator ``meta.json``, its CSI shape
            must be this layout's, so a config of one sensing never trains on
            another's data. Defaults to None (no check).
        **kwargs: Arguments of :class:`DensePoseCocoDataset`;
            ``data_prefix=dict(img=..., csi=...)`` (``csi`` defaults to
            ``data_root``).

    Raises:
        ValueError: An image entry has no ``csi_file`` (the message names the
            annotation file and image id), or ``meta.json``'s CSI shape is not
            ``csi_layout``'s.
    """

    def __init__(self, *args, csi_layout: Optional[Union[str, dict]] = None, **kwargs) -> None:
        self.csi_layout = None if csi_layout is None else parse_layout(csi_layout)
        if self.csi_layout is not None:
            check_csi_meta(kwargs.get('data_root') or '', self.csi_layout.shape,
                           self.csi_layout.name)
        super().__init__(*args, **kwargs)

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        """Parse one image entry and its annotations, adding ``csi_path``.

        Args:
            raw_data_info (dict): ``raw_img_info`` and ``raw_ann_info``.

        Returns:
            dict: The data info of :class:`DensePoseCocoDataset` plus
            ``csi_path``.
        """
        data_info = super().parse_data_info(raw_data_info)
        img_info = raw_data_info['raw_img_info']
        csi_file = img_info.get('csi_file', None)
        if not csi_file:
            raise ValueError(f"{self.ann_file}: image id {img_info['img_id']} "
                             f"({img_info.get('file_name')}) has no 'csi_file' entry; "
                             'every image of a paired WiFi dataset must name its CSI '
                             'file')
        prefix = self.data_prefix.get('csi', None) or self.data_root or ''
        data_info['csi_path'] = osp.join(prefix, csi_file)
        return data_info


def check_csi_meta(data_root: str, shape: tuple, name: str) -> None:
    """Raise a ValueError when ``data_root/meta.json`` (if any) records a CSI
    shape other than ``shape`` (of the config's layout ``name``)."""
    meta_file = osp.join(data_root, 'meta.json')
    if not osp.isfile(meta_file):
        return
    with open(meta_file) as f:
        csi = json.load(f).get('csi', {})
    if tuple(csi.get('shape', ())) != tuple(shape):
        raise ValueError(f"{meta_file}: the data's CSI is {csi.get('layout')!r} of shape "
                         f"{tuple(csi.get('shape', ()))}, the config's csi_layout {name!r} "
                         f'is {tuple(shape)}')
