# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest

from mmdensekd.testing.synthetic_eval_data import write_synthetic_eval_data


@pytest.fixture(scope='session')
def dp_mesh_dir(tmp_path_factory):
    """Directory with a synthetic mesh in the official file structure."""
    return write_synthetic_eval_data(str(tmp_path_factory.mktemp('dp_eval_data')))
