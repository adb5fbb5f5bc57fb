# Copyright (c) mmdensekd contributors. All rights reserved.
"""DensePose-COCO annotations paired with WiFi CSI files."""
import os.path as osp
from typing import List, Union

from mmdensekd.registry import DATASETS

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
        **kwargs: Arguments of :class:`DensePoseCocoDataset`;
            ``data_prefix=dict(img=..., csi=...)`` (``csi`` defaults to
            ``data_root``).

    Raises:
        ValueError: An image entry has no ``csi_file`` (the message names the
            annotation file and image id).
    """

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
