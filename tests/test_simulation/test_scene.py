# Copyright (c) mmdensekd contributors. All rights reserved.
"""Room layouts and people placement, with and without standing stations."""
import numpy as np
import pytest

from mmdensekd.simulation.scene import layout_stations, make_layout, sample_frame


def test_stations_are_fixed_per_layout_and_apart():
    layout = make_layout(0, 0)
    spots = layout_stations(layout, 6)
    assert spots.shape == (6, 2)
    np.testing.assert_array_equal(spots, layout_stations(make_layout(0, 0), 6))
    assert not np.array_equal(spots, layout_stations(make_layout(0, 1), 6))
    x0, x1, y0, y1 = layout.area
    assert ((spots[:, 0] > x0) & (spots[:, 0] < x1) & (spots[:, 1] > y0)
            & (spots[:, 1] < y1)).all()
    d = np.hypot(*(spots[:, None] - spots[None]).transpose(2, 0, 1))
    assert d[~np.eye(6, dtype=bool)].min() >= 0.9


def test_people_stand_at_stations():
    layout = make_layout(0, 0)
    spots = layout_stations(layout, 5)
    rng = np.random.default_rng(3)
    used = set()
    for _ in range(12):
        scene = sample_frame(layout, rng, 2, 320, 240, stations=spots, station_jitter=0.02)
        for person in scene.people:
            d = np.hypot(*(spots - np.asarray(person.position)).T)
            assert d.min() < 0.1  # 5 sigma of the jitter
            used.add(int(d.argmin()))
    assert len(used) >= 3


def test_too_many_stations_is_an_error():
    with pytest.raises(ValueError, match='cannot place 200 stations'):
        layout_stations(make_layout(0, 0), 200)
