# Copyright (c) mmdensekd contributors. All rights reserved.
from .densepose_coco import DensePoseCocoDataset
from .mmfi_dataset import MMFiDensePoseDataset
from .paired_wifi_dataset import PairedWiFiDensePoseDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['DensePoseCocoDataset', 'PairedWiFiDensePoseDataset', 'MMFiDensePoseDataset']
