# Copyright (c) mmdensekd contributors. All rights reserved.
import pytest

from mmdensekd.simulation import generate_dataset

#: Tiny options shared by the generator tests (3 layouts, all splits).
TINY = dict(num_train=3, num_val=2, num_test_layout=2, img_size=(128, 96), max_people=3,
            min_people=2, layouts=3, seed=5, progress=False)


@pytest.fixture(scope='session')
def tiny_opts():
    """The options of :func:`tiny_dataset` (a copy)."""
    return dict(TINY)


@pytest.fixture(scope='session')
def tiny_dataset(tmp_path_factory):
    """A tiny Person-in-WiFi dataset generated once (1 worker)."""
    out = str(tmp_path_factory.mktemp('synthetic_wifi'))
    meta = generate_dataset(out, workers=1, **TINY)
    return out, meta
