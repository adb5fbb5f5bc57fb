# Copyright (c) mmdensekd contributors. All rights reserved.
import torch

from mmdensekd.models.distillers.pseudo_labels import chart_results_to_targets
from mmdensekd.structures import FINE_TO_COARSE, DensePoseChartResults


def test_charts_become_box_frame_targets():
    labels = torch.zeros((40, 20), dtype=torch.uint8)
    labels[:, :10] = 3  # left half of the box: fine part 3 (right hand)
    uv = torch.zeros((2, 40, 20))
    uv[0, :, :10], uv[1, :, :10] = 0.2, 0.6
    empty = DensePoseChartResults([torch.zeros((5, 5), dtype=torch.uint8)],
                                  [torch.zeros((2, 5, 5))])
    charts = DensePoseChartResults.cat([DensePoseChartResults([labels], [uv]), empty])

    boxes = torch.tensor([[10., 20., 30., 60.], [0., 0., 5., 5.]])
    targets = chart_results_to_targets(charts, boxes, num_points=50)
    assert targets.has_dp.tolist() == [True, False]
    pts = targets.points[0]
    assert len(pts) == 50 and len(targets.points[1]) == 0
    # Points lie in the left half of the 256x256 box frame, carry the part
    # and its U, V (quantised to 1/255 as in the results format).
    assert torch.all(pts[:, 0] < 128) and torch.all((pts[:, 1] > 0) & (pts[:, 1] < 256))
    assert torch.all(pts[:, 2] == 3)
    assert torch.allclose(pts[:, 3], torch.full((50, ), 51 / 255))
    assert torch.allclose(pts[:, 4], torch.full((50, ), 153 / 255))
    # The merged segmentation holds the coarse part of the label.
    segm = targets.segms[0]
    assert segm.shape == (256, 256)
    assert torch.all(segm[:, :128] == FINE_TO_COARSE[3]) and torch.all(segm[:, 128:] == 0)
    # Sampling is seeded: the same seed gives the same points.
    again = chart_results_to_targets(charts, boxes, num_points=50)
    assert torch.equal(again.points[0], pts)
