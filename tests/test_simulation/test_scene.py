# Copyright (c) mmdensekd contributors. All rights reserved.
"""Room layouts and people placement: standing stations, headings."""
import numpy as np
import pytest

from mmdensekd.simulation.scene import facing_yaw, layout_stations, make_layout, sample_frame


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


def test_facing_yaw_points_the_body_forward_at_the_target():
    # build_body's forward direction at heading yaw is (-sin yaw, cos yaw)
    for pos, target in (((1.0, 2.0), (1.0, 5.0)), ((3.0, 4.0), (0.5, 0.2)), ((2, 2), (4, 1))):
        yaw = facing_yaw(pos, target)
        d = np.subtract(target, pos)
        np.testing.assert_allclose([-np.sin(yaw), np.cos(yaw)], d / np.hypot(*d), atol=1e-12)


def test_heading_jitter_makes_people_face_the_camera():
    layout = make_layout(0, 0)
    camera = layout.camera(320, 240)
    rng = np.random.default_rng(5)
    for _ in range(8):
        scene = sample_frame(layout, rng, 2, 320, 240, heading_jitter=0.0)
        for person, joints in zip(scene.people, scene.joints):
            assert person.yaw == pytest.approx(facing_yaw(person.position,
                                                          layout.camera_position))
            uv, _ = camera.project(joints)
            # facing the camera, a person's right shoulder (COCO 6) is on the
            # image's left of the left shoulder (COCO 5)
            assert uv[6, 0] < uv[5, 0]
    # the std is honoured: turns of 0.1 rad stay within 0.5 rad of facing
    turns = []
    for _ in range(8):
        scene = sample_frame(layout, rng, 1, 320, 240, heading_jitter=0.1)
        p = scene.people[0]
        turns.append(np.angle(np.exp(1j * (p.yaw - facing_yaw(p.position,
                                                             layout.camera_position)))))
    assert 0 < np.abs(turns).max() < 0.5
