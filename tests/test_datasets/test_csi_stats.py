# Copyright (c) mmdensekd contributors. All rights reserved.
"""CSI statistics computed once and stored in the dataset's meta file."""
import json
import os.path as osp

import numpy as np
import pytest
import scipy.io

from mmdensekd.datasets.csi_stats import (
    CSI_STATS_KEY,
    csi_stats_from_samples,
    csi_stats_of_files,
    read_csi_stats,
    write_csi_stats,
)
from mmdensekd.datasets.transforms.csi_transforms import CSIPhaseSanitize

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'wifi_csi')


def test_stats_of_files_are_the_pipeline_output():
    files = [osp.join(DATA, 'mmfi_frames', f'frame{i:03d}.mat') for i in range(1, 5)]
    stats = csi_stats_of_files(files, load=dict(expected_shape=(3, 114, 10)), sanitize={})
    mats = [scipy.io.loadmat(f) for f in files]
    amp = np.stack([m['CSIamp'] for m in mats])
    phase = np.stack([CSIPhaseSanitize().sanitize(m['CSIphase']) for m in mats])
    assert stats['transforms'] == ['LoadCSIFromFile', 'CSIPhaseSanitize']
    assert stats['num_samples'] == 4 and stats['shape'] == [3, 114, 10]
    np.testing.assert_allclose(stats['csi_mean'], [amp.mean(), phase.mean()], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(stats['csi_std'], [amp.std(), phase.std()], rtol=1e-4)


def test_write_keeps_meta_and_reads_back(tmp_path):
    meta = tmp_path / 'meta.json'
    meta.write_text(json.dumps(dict(num_train=3, csi_shape=[150, 3, 3])))
    stats = csi_stats_from_samples([(np.full((2, 2), 3.0), np.zeros((2, 2))),
                                    (np.full((2, 2), 5.0), np.ones((2, 2)))])
    assert stats['csi_mean'] == [4.0, 0.5] and stats['csi_std'] == [1.0, 0.5]
    write_csi_stats(str(meta), stats)
    content = json.loads(meta.read_text())
    assert content['num_train'] == 3 and content[CSI_STATS_KEY]['num_samples'] == 2
    assert read_csi_stats(str(meta)) == ([4.0, 0.5], [1.0, 0.5])
    with pytest.raises(KeyError, match='csi_mean_per_element'):
        read_csi_stats(str(meta), per_element=True)
    with pytest.raises(FileNotFoundError, match='absent.json'):
        read_csi_stats(str(tmp_path / 'absent.json'))
    with pytest.raises(KeyError, match="without 'csi_std'"):
        write_csi_stats(str(meta), dict(csi_mean=[0.0, 0.0]))
    with pytest.raises(ValueError, match='shape'):
        csi_stats_from_samples([(np.zeros(2), np.zeros(2)), (np.zeros(3), np.zeros(3))])
