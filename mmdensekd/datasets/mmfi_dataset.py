# Copyright (c) mmdensekd contributors. All rights reserved.
"""MM-Fi WiFi/RGB frames with DensePose-COCO pseudo ground truth."""
import os.path as osp
import re
from typing import List, Optional, Union

from mmdensekd.registry import DATASETS

from .densepose_coco import DensePoseCocoDataset


@DATASETS.register_module()
class MMFiDensePoseDataset(DensePoseCocoDataset):
    """MM-Fi frames: RGB image paired with a WiFi CSI frame of the same number.

    Directory convention under ``data_root`` (MM-Fi; environment ``E##``,
    subject ``S##``, action ``A##``)::

        E01/S01/A01/rgb/frame001.png        <- RGB frame 1
        E01/S01/A01/wifi-csi/frame001.mat   <- CSI frame 1 (CSIamp, CSIphase)

    The annotation file is a DensePose-COCO json (typically the teacher's
    pseudo ground truth) whose images' ``file_name`` are the relative RGB
    paths, e.g. ``E01/S01/A01/rgb/frame001.png``. The CSI path is derived from
    it: same ``E/S/A`` folder, ``rgb`` replaced by ``wifi-csi``, same frame
    number, ``.mat`` extension, joined to ``data_prefix['csi']`` (defaults to
    ``data_prefix['img']``, i.e. the MM-Fi root). ``data_info`` also holds
    ``environment``, ``subject``, ``action`` (e.g. ``'E01'``) and ``frame``
    (int) for splits.

    Args:
        rgb_dir (str): Name of the RGB folder. Defaults to ``'rgb'``.
        csi_dir (str): Name of the CSI folder. Defaults to ``'wifi-csi'``.
        csi_suffix (str): Extension of CSI frames. Defaults to ``'.mat'``.
        **kwargs: Arguments of :class:`DensePoseCocoDataset`
            (``data_prefix=dict(img='', csi='')`` relative to ``data_root``).

    Raises:
        ValueError: A ``file_name`` does not follow the convention (the message
            names the annotation file, image id and file name).
    """

    def __init__(self, *args, rgb_dir: str = 'rgb', csi_dir: str = 'wifi-csi',
                 csi_suffix: str = '.mat', **kwargs) -> None:
        self.rgb_dir = rgb_dir
        self.csi_dir = csi_dir
        self.csi_suffix = csi_suffix
        self._pattern = re.compile(r'^(?P<env>E\d+)/(?P<sub>S\d+)/(?P<act>A\d+)/'
                                   + re.escape(rgb_dir)
                                   + r'/frame(?P<frame>\d+)\.[A-Za-z0-9]+$')
        super().__init__(*args, **kwargs)

    def _match(self, file_name: str):
        name = file_name.replace('\\', '/')
        while name.startswith('./'):
            name = name[2:]
        return self._pattern.match(name)

    def csi_file_of(self, file_name: str) -> Optional[str]:
        """Relative CSI path paired with an RGB ``file_name``.

        Args:
            file_name (str): e.g. ``'E01/S01/A01/rgb/frame001.png'``.

        Returns:
            str | None: e.g. ``'E01/S01/A01/wifi-csi/frame001.mat'``, or None if
            ``file_name`` does not follow the convention.
        """
        match = self._match(file_name)
        if match is None:
            return None
        return '/'.join((match['env'], match['sub'], match['act'], self.csi_dir,
                         f"frame{match['frame']}{self.csi_suffix}"))

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        """Parse one frame and its annotations, adding ``csi_path``.

        Args:
            raw_data_info (dict): ``raw_img_info`` and ``raw_ann_info``.

        Returns:
            dict: The data info of :class:`DensePoseCocoDataset` plus
            ``csi_path``, ``environment``, ``subject``, ``action``, ``frame``.
        """
        data_info = super().parse_data_info(raw_data_info)
        img_info = raw_data_info['raw_img_info']
        file_name = img_info['file_name']
        csi_file = self.csi_file_of(file_name)
        if csi_file is None:
            raise ValueError(
                f"{self.ann_file}: image id {img_info['img_id']} has file_name "
                f"{file_name!r}, which does not follow the MM-Fi convention "
                f"'E##/S##/A##/{self.rgb_dir}/frame###.png'")
        match = self._match(file_name)
        prefix = self.data_prefix.get('csi', None) or self.data_prefix.get('img', '')
        data_info['csi_path'] = osp.join(prefix, csi_file)
        data_info['environment'] = match['env']
        data_info['subject'] = match['sub']
        data_info['action'] = match['act']
        data_info['frame'] = int(match['frame'])
        return data_info
