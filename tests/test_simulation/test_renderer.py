# Copyright (c) mmdensekd contributors. All rights reserved.
import numpy as np

from mmdensekd.simulation import BodyShape, Camera, build_body, cast_points, render_labels
from mmdensekd.simulation.body import Primitives
from mmdensekd.simulation.eval_data import canonical_pose
from mmdensekd.simulation.renderer import intersect_capsule

CAM = dict(position=np.array([0.0, -2.5, 1.0]), target=np.array([0.0, 0.0, 0.9]), width=128,
           height=128)


def _person(x=0.0, y=0.0, yaw=np.pi, index=0):
    """A person facing the camera (yaw = pi faces -y)."""
    joints, prims, _ = build_body(BodyShape(), canonical_pose(), yaw, (x, y), person=index)
    return joints, prims


def test_capsule_hits_lie_on_the_surface_and_misses_miss():
    rng = np.random.default_rng(0)
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    rot[:, 0] *= np.sign(np.linalg.det(rot))
    a, radii, h = np.array([0.1, 2.0, 0.2]), np.array([0.2, 0.1, 0.15]), 2.0
    origin = np.zeros(3)
    dirs = np.concatenate([np.array([0.1, 2.0, 0.2]) + rng.normal(0, 0.25, (400, 3))])
    t, q = intersect_capsule(origin, dirs, a, rot, radii, h)
    hit = np.isfinite(t)
    assert 50 < hit.sum() < 400
    # on the surface: unit distance from the local segment
    closest = np.clip(q[hit, 2], 0, h)
    dist = np.sqrt(q[hit, 0]**2 + q[hit, 1]**2 + (q[hit, 2] - closest)**2)
    np.testing.assert_allclose(dist, 1.0, atol=1e-9)
    # the world hit point maps to the same local point, and nothing is closer
    world = origin + t[hit, None] * dirs[hit]
    local = ((world - a) @ rot) / radii
    np.testing.assert_allclose(local, q[hit], atol=1e-9)
    for frac in (0.5, 0.9):
        inner = origin + frac * t[hit, None] * dirs[hit]
        loc = ((inner - a) @ rot) / radii
        seg = np.clip(loc[:, 2], 0, h)
        assert (np.sqrt(loc[:, 0]**2 + loc[:, 1]**2 + (loc[:, 2] - seg)**2) > 1 - 1e-9).all()


def test_image_render_equals_point_casts_at_pixel_centres():
    cam = Camera(**CAM)
    _, prims = _person()
    labels = render_labels(cam, prims)
    ys, xs = np.nonzero(labels['person'] >= 0)
    assert len(ys) > 300
    sel = np.random.default_rng(0).choice(len(ys), 200, replace=False)
    xy = np.stack([xs[sel] + 0.5, ys[sel] + 0.5], axis=1)
    pts = cast_points(cam, prims, xy)
    for key in ('person', 'part', 'fine', 'u', 'v', 'depth'):
        np.testing.assert_array_equal(pts[key], labels[key][ys[sel], xs[sel]])
    assert labels['u'].max() <= 1 and labels['v'].min() >= 0


def test_front_back_and_left_right_conventions():
    cam = Camera(**CAM)
    _, facing = _person(yaw=np.pi)
    lab = render_labels(cam, facing)
    fine = lab['fine']
    count = np.bincount(fine.reshape(-1), minlength=25)
    assert count[2] > 10 * count[1]  # torso front faces the camera
    assert count[9] > count[7] and count[10] > count[8]  # leg fronts
    xs = np.arange(cam.width)[None].repeat(cam.height, 0)
    # the person's right side is on the image left
    assert xs[fine == 3].mean() < xs[fine == 4].mean()  # right hand, left hand
    assert xs[fine == 23].mean() < xs[fine == 24].mean()  # head right, left
    assert xs[fine == 6].mean() < xs[fine == 5].mean()  # right foot, left foot
    _, away = _person(yaw=0.0)
    count = np.bincount(render_labels(cam, away)['fine'].reshape(-1), minlength=25)
    assert count[1] > 10 * count[2]  # the back


def test_people_occlude_each_other_and_static_depth_hides():
    cam = Camera(**CAM)
    _, front = _person(0.0, -0.8, index=0)
    _, back = _person(0.05, 0.5, index=1)
    both = render_labels(cam, Primitives.concat([back, front]))
    alone = render_labels(cam, back)
    hidden = (alone['person'] == 1) & (both['person'] == 0)
    assert hidden.sum() > 100
    assert (both['depth'][both['person'] == 0] < alone['depth'][both['person'] == 0]).all()
    wall = np.full((cam.height, cam.width), 2.2)  # everything behind 2.2 m is hidden
    walled = render_labels(cam, Primitives.concat([back, front]), max_depth=wall)
    assert (walled['person'] == 1).sum() == 0 and (walled['person'] == 0).sum() > 0


def test_bodies_stand_on_the_floor_with_coco_joints():
    rng = np.random.default_rng(1)
    from mmdensekd.simulation.poses import POSE_KINDS, sample_pose
    for kind in POSE_KINDS:
        joints, prims, _ = build_body(BodyShape.sample(rng), sample_pose(rng, kind), 0.3,
                                      (1.0, 2.0))
        assert joints.shape == (17, 3) and len(prims) == 14
        np.testing.assert_allclose(prims.lowest_z().min(), 0.0, atol=1e-9)
        assert joints[0, 2] > joints[11, 2] > joints[15, 2]  # nose > hip > ankle
