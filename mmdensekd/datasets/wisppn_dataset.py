# Copyright (c) mmdensekd contributors. All rights reserved.
"""WiSPPN-style paired samples: one ``.mat`` file per frame with CSI, camera frame and joints."""
import os
import os.path as osp
from typing import List

from mmengine.dataset import BaseDataset

from mmdensekd.registry import DATASETS


@DATASETS.register_module()
class WiSPPNPairedDataset(BaseDataset):
    """Directory of self-contained paired ``.mat`` samples (WiSPPN layout).

    Every file holds the CSI (WiSPPN: ``csi_serial``, amplitude
    ``(5, 30, 3, 3)`` in MATLAB order), the synchronised camera frame
    (``frame``) and the OpenPose-18 joints of the person (``jointsVector``).
    The dataset only lists the files; the pipeline reads them, e.g.::

        dict(type='LoadCSIFromFile', amp_key='csi_serial', phase_key=None,
             missing_phase='zeros', reshape=(150, 3, 3), frame_key='frame',
             joints_key='jointsVector', joints_scale=0.5)

    which yields ``img`` (the frame), ``csi_amplitude`` / ``csi_phase`` and
    the person's ``gt_keypoints`` / ``gt_bboxes``: a real image + CSI pair.

    ``data_list`` entries: ``img_id`` (0-based), ``csi_path`` and
    ``img_path`` (both the ``.mat`` file).

    Args:
        ann_file (str): Optional text file listing the samples (one path per
            line, relative to ``data_prefix['csi']``); '' lists every
            ``suffix`` file under ``data_prefix['csi']`` recursively, sorted.
        suffix (str): File extension of samples. Defaults to '.mat'.
        **kwargs: Arguments of :class:`mmengine.dataset.BaseDataset`
            (``data_root``, ``data_prefix=dict(csi=...)``, ``pipeline``,
            ``test_mode``...).

    Raises:
        FileNotFoundError: The folder holds no sample or a listed sample is
            missing (the message names the list file and line).
    """

    METAINFO = dict(classes=('person', ))

    def __init__(self, ann_file: str = '', suffix: str = '.mat', **kwargs) -> None:
        self.suffix = suffix
        kwargs.setdefault('data_prefix', dict(csi=''))
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        """List the samples.

        Returns:
            list[dict]: ``img_id``, ``csi_path``, ``img_path`` per sample.
        """
        root = self.data_prefix.get('csi', '') or self.data_root or ''
        if self.ann_file:
            paths = []
            with open(self.ann_file) as f:
                for lineno, line in enumerate(f, start=1):
                    name = line.strip()
                    if not name or name.startswith('#'):
                        continue
                    path = osp.join(root, name)
                    if not osp.isfile(path):
                        raise FileNotFoundError(f'{self.ann_file}, line {lineno}: sample '
                                                f'{path} does not exist')
                    paths.append(path)
        else:
            if not osp.isdir(root):
                raise FileNotFoundError(f'WiSPPN sample folder {root} does not exist')
            paths = sorted(
                osp.join(d, n) for d, _, files in os.walk(root) for n in files
                if n.lower().endswith(self.suffix))
        if not paths:
            raise FileNotFoundError(f'no {self.suffix} sample in {self.ann_file or root}')
        return [dict(img_id=i, csi_path=p, img_path=p) for i, p in enumerate(paths)]
