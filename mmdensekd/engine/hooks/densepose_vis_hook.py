# Copyright (c) mmdensekd contributors. All rights reserved.
"""Draw DensePose predictions beside their ground truth during val / test."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.fileio import get
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdensekd.registry import HOOKS, TRANSFORMS
from mmdensekd.visualization.backend_check import check_tensorboard_available


@HOOKS.register_module()
class DensePoseVisualizationHook(Hook):
    """Draw every ``interval``-th val / test prediction next to its ground
    truth, into files under the log directory and into every backend of the
    visualiser (Local, TensorBoard, ...), as mmdet's ``DetVisualizationHook``.

    The drawing is the visualiser's ``add_datasample`` (for
    :class:`~mmdensekd.visualization.DensePoseVisualizer`: ground truth boxes,
    keypoints, coarse masks and DensePose points on the left; predicted
    boxes, skeletons and parts / U / V on the right), on the original image
    read from ``img_path``.

    Ground truth comes from the evaluated dataset (its annotation of the
    sample's ``img_id`` loaded with ``LoadDensePoseAnnotations``, in the
    original image frame), because test pipelines usually do not load it;
    when the dataset has none, the sample's own ``gt_instances`` are used,
    mapped back to the original frame with ``scale_factor``.

    Args:
        draw (bool): Draw at all. Defaults to True.
        interval (int): Draw every ``interval``-th sample (counted over the
            samples of one val / test run). Defaults to 50.
        score_thr (float): Score threshold of predictions. Defaults to 0.3.
        draw_gt (bool): Draw the ground truth beside the prediction.
            Defaults to True.
        show (bool): Show each drawing in a window. Defaults to False.
        wait_time (float): Seconds a shown drawing stays. Defaults to 0.
        out_dir (str, optional): Directory of the drawn files, relative to
            the run's log directory (``work_dir/timestamp``) unless absolute;
            None writes no files (backends only). Defaults to 'densepose_vis'.
        test_out_dir (str, optional): Directory of the test drawings (as
            mmdet's hook; ``tools/test.py --show-dir`` sets it); defaults to
            ``out_dir``.
        backend_args (dict, optional): File backend arguments for reading
            images.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = True,
                 interval: int = 50,
                 score_thr: float = 0.3,
                 draw_gt: bool = True,
                 show: bool = False,
                 wait_time: float = 0.,
                 out_dir: Optional[str] = 'densepose_vis',
                 test_out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        self.draw = draw
        self.interval = interval
        self.score_thr = score_thr
        self.draw_gt = draw_gt
        self.show = show
        self.wait_time = wait_time
        self.out_dir = out_dir
        self.test_out_dir = test_out_dir
        self.backend_args = backend_args
        self._count: Dict[str, int] = dict(val=0, test=0)
        self._gt_index: Dict[int, Optional[dict]] = {}
        self.num_drawn: Dict[str, int] = dict(val=0, test=0)
        self._gt_loader = None

    # ---------------------------------------------------------------- hooks
    def before_run(self, runner) -> None:
        # DensePoseVisualizer checks at construction; other visualisers here
        check_tensorboard_available(runner.visualizer)

    def before_val_epoch(self, runner) -> None:
        self._count['val'] = self.num_drawn['val'] = 0
        self._gt_index = {}

    def before_test_epoch(self, runner) -> None:
        self._count['test'] = self.num_drawn['test'] = 0
        self._gt_index = {}

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        self._draw_outputs(runner, 'val', outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        self._draw_outputs(runner, 'test', outputs)

    # ------------------------------------------------------------- drawing
    def _out_dir(self, runner, mode: str) -> Optional[str]:
        out_dir = self.test_out_dir if mode == 'test' and self.test_out_dir else self.out_dir
        if out_dir is None:
            return None
        return out_dir if osp.isabs(out_dir) else osp.join(runner.log_dir, out_dir)

    def _draw_outputs(self, runner, mode: str, outputs: Sequence) -> None:
        if not self.draw:
            return
        visualizer = runner.visualizer
        out_dir = self._out_dir(runner, mode)
        for sample in outputs:
            self._count[mode] += 1
            if self._count[mode] % self.interval:
                continue
            img_path = sample.metainfo.get('img_path')
            if img_path is None:
                print_log(f'DensePoseVisualizationHook: {mode} sample {self._count[mode]} has '
                          'no img_path; not drawn', logger='current')
                continue
            img = mmcv.imfrombytes(get(img_path, backend_args=self.backend_args),
                                   channel_order='rgb')
            if self.draw_gt:
                sample = self._with_ground_truth(runner, mode, sample)
            name = f'{mode}_{osp.basename(img_path)}'
            step = runner.iter if mode == 'val' else self._count[mode]
            drawn = visualizer.add_datasample(name, img, data_sample=sample,
                                              draw_gt=self.draw_gt, draw_pred=True,
                                              show=self.show, wait_time=self.wait_time,
                                              pred_score_thr=self.score_thr, step=step)
            if out_dir is not None:
                os.makedirs(out_dir, exist_ok=True)
                stem = osp.splitext(osp.basename(img_path))[0]
                out_file = osp.join(out_dir, f'{stem}_{mode}{self._count[mode]}.png')
                if not cv2.imwrite(out_file, cv2.cvtColor(np.asarray(drawn), cv2.COLOR_RGB2BGR)):
                    raise OSError(f'cannot write image file {out_file}')
            self.num_drawn[mode] += 1

    # --------------------------------------------------------- ground truth
    def _with_ground_truth(self, runner, mode: str, sample):
        """A copy of ``sample`` whose ``gt_instances`` are in the original
        image frame (from the dataset when it has annotations)."""
        gt = self._dataset_ground_truth(runner, mode, sample.metainfo.get('img_id'))
        sample = sample.clone()
        if gt is not None:
            sample.gt_instances = gt
        elif 'gt_instances' in sample and 'bboxes' in sample.gt_instances:
            scale = sample.metainfo.get('scale_factor')
            if scale is not None:
                gt = sample.gt_instances.clone()
                sx, sy = float(scale[0]), float(scale[1])
                gt.bboxes = gt.bboxes.clone()
                bboxes = getattr(gt.bboxes, 'tensor', gt.bboxes)
                bboxes[:, 0::2] /= sx
                bboxes[:, 1::2] /= sy
                if 'keypoints' in gt:
                    gt.keypoints = gt.keypoints / gt.keypoints.new_tensor([sx, sy])
                sample.gt_instances = gt
        return sample

    def _dataset_ground_truth(self, runner, mode: str, img_id):
        """Ground-truth instances of ``img_id`` loaded from the dataset, or
        None when the dataset carries no annotations for it."""
        if img_id is None:
            return None
        if not self._gt_index:
            loader = runner.val_dataloader if mode == 'val' else runner.test_dataloader
            dataset = getattr(loader, 'dataset', None)
            index: Dict[int, Optional[dict]] = {-1: None}  # non-empty marks "built"
            if dataset is not None and hasattr(dataset, 'get_data_info'):
                for i in range(len(dataset)):
                    info = dataset.get_data_info(i)
                    if isinstance(info, dict) and 'img_id' in info:
                        index[int(info['img_id'])] = info
            self._gt_index = index
        info = self._gt_index.get(int(img_id))
        if info is None or not info.get('instances'):
            return None
        if self._gt_loader is None:
            self._gt_loader = (TRANSFORMS.build(dict(type='LoadDensePoseAnnotations',
                                                     with_bbox=True, with_label=True)),
                               TRANSFORMS.build(dict(type='PackDensePoseInputs', meta_keys=())))
        load, pack = self._gt_loader
        try:
            results = load.transform(dict(info))
            return pack.transform(results)['data_samples'].gt_instances
        except (KeyError, ValueError, TypeError) as e:
            print_log(f'DensePoseVisualizationHook: cannot load the ground truth of image '
                      f'{img_id} ({e}); drawing the prediction only', logger='current')
            return None
