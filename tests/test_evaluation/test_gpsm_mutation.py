# Copyright (c) mmdensekd contributors. All rights reserved.
"""GPSm = sqrt(GPS * mask IoU): a hand-computed case where the square root
decides the AP (``GPS * IoU`` or ``GPS`` alone give other values)."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdensekd.evaluation.functional import DensePoseEvalData, evaluate

THRESHOLDS = np.linspace(0.5, 0.95, 10)


def _full_mask():
    rle = mask_utils.encode(np.asfortranarray(np.ones((256, 256), np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def _case(fg_cols: int):
    """One 200x100 person whose mask covers its box and whose 20 points lie
    in the left ``fg_cols`` columns; one detection on the same box whose
    chart is exact at every point but foreground only in those columns.

    GPS = 1 (every point exact), mask IoU = fg_cols / 200.
    """
    x0, y0, w, h = 40, 30, 200, 100
    rng = np.random.default_rng(0)
    n = 20
    px = rng.integers(0, fg_cols, n)
    py = rng.integers(0, h, n)
    parts = rng.integers(1, 7, n)
    # U, V on the byte grid of the results format, so the chart is exact
    u8, v8 = rng.integers(0, 256, n), rng.integers(0, 256, n)
    chart = np.zeros((3, h, w), np.uint8)
    chart[0, :, :fg_cols] = 1
    chart[:, py, px] = np.stack([parts, u8, v8])
    ann = dict(id=1, image_id=1, category_id=1, bbox=[x0, y0, w, h], area=float(w * h),
               iscrowd=0, dp_x=list((px + 0.5) * 255 / w), dp_y=list((py + 0.5) * 255 / h),
               dp_I=[int(p) for p in parts], dp_U=list(u8 / 255), dp_V=list(v8 / 255),
               dp_masks=[_full_mask()] + [[]] * 13)
    gt = dict(images=[dict(id=1, height=300, width=400)], annotations=[ann],
              categories=[dict(id=1, name='person')])
    result = dict(image_id=1, category_id=1, bbox=[float(x0), float(y0), float(w), float(h)],
                  score=0.9, iuv=chart)
    return gt, [result]


def _ap_of_single_match(sim: float) -> float:
    """AP of one detection matched to one GT with similarity ``sim``: the
    fraction of the thresholds 0.5:0.05:0.95 it passes."""
    return float(np.mean(THRESHOLDS <= sim + 1e-12))


@pytest.mark.parametrize('fg_cols', [90, 134])
def test_gpsm_is_sqrt_of_gps_times_mask_iou(dp_mesh_dir, fg_cols):
    gt, results = _case(fg_cols)
    stats = evaluate(gt, results, eval_data=DensePoseEvalData.from_dir(dp_mesh_dir),
                     show_progress=False)
    gps, iou = 1.0, fg_cols / 200
    assert stats['GPS_AP'] == pytest.approx(_ap_of_single_match(gps))
    assert stats['IOU_AP'] == pytest.approx(_ap_of_single_match(iou))
    expected = _ap_of_single_match(np.sqrt(gps * iou))
    # the case is chosen so that the square root matters
    assert expected != _ap_of_single_match(gps * iou)
    assert expected != _ap_of_single_match(gps)
    assert stats['GPSm_AP'] == pytest.approx(expected)
