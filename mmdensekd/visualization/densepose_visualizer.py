# Copyright (c) mmdensekd contributors. All rights reserved.
"""Visualiser of DensePose R-CNN predictions (boxes, keypoints, charts)."""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.structures import InstanceData
from mmengine.visualization import Visualizer

from mmdensekd.registry import VISUALIZERS
from mmdensekd.structures import DensePoseTargets
from mmdensekd.utils.misc import to_numpy

from . import densepose_drawing as drawing
from .backend_check import check_tensorboard_available

VIS_MODES = ('parts', 'u', 'v', 'texture', 'sigma')


@VISUALIZERS.register_module()
class DensePoseVisualizer(Visualizer):
    """Draw boxes, COCO keypoints and DensePose charts with cv2 / numpy.

    Images are RGB (H, W, 3) uint8, as in mmengine / mmdet visualisers.
    DensePose results (``pred_instances.densepose``, a
    :class:`~mmdensekd.structures.DensePoseChartResults`) are drawn as

    * ``'parts'``: fine body parts in distinct colours, blended;
    * ``'u'`` / ``'v'``: the U / V coordinate colour-mapped, with iso-lines;
    * ``'texture'``: texture transfer from a DensePose texture atlas (6 rows
      x 4 columns of square tiles, one per fine part);
    * ``'sigma'``: the U/V standard deviation ``sqrt(sigma_2)`` of models
      with U/V confidences (``confidences['sigma_2']``, the variance
      ``softplus(raw) + epsilon``) colour-mapped on the foreground from 0
      (blue) to ``sigma_max`` and above (red); charts without it raise.

    Ground truth (``gt_instances.densepose``, a
    :class:`~mmdensekd.structures.DensePoseTargets`) is drawn as the coarse
    part masks (blended, each in the colour of its first fine part) and the
    annotated points as discs coloured by fine part (by U / V in the 'u' /
    'v' modes). :meth:`add_datasample` draws ground truth (left) beside
    predictions (right) by default, as mmdet's ``DetLocalVisualizer``, so
    mmdet's ``browse_dataset.py`` and ``tools/test.py --show-dir`` show it.

    Shape legend: ``N`` instances, ``K`` keypoints.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): Image to draw on.
        vis_backends (list[dict], optional): mmengine visualisation backends.
        save_dir (str, optional): Directory of the backends.
        vis_mode (str | None): 'parts', 'u', 'v', 'texture', 'sigma', or None
            (no DensePose). Defaults to 'parts'.
        texture (str | np.ndarray, optional): Texture atlas file or RGB array,
            required by ``vis_mode='texture'``.
        alpha (float): Opacity of part / U / V colours. Defaults to 0.6.
        kpt_thr (float): Keypoint score threshold. Defaults to 0.3.
        draw_bbox (bool): Draw boxes and scores. Defaults to True.
        draw_keypoints (bool): Draw keypoints and skeleton. Defaults to True.
        bbox_color (tuple[int, int, int]): RGB box colour.
        skeleton (Sequence[tuple[int, int]]): Keypoint pairs joined by limbs.
            Defaults to the COCO-17 skeleton.
        line_width (int): Box and limb thickness. Defaults to 2.
        radius (int): Keypoint radius. Defaults to 3.
        num_contours (int): Iso-lines per unit in 'u' / 'v' modes.
        gt_alpha (float): Opacity of ground-truth coarse masks. Defaults to 0.4.
        point_radius (int): Radius of ground-truth DensePose points. Defaults
            to 2.
        sigma_max (float): U/V standard deviation shown red in the 'sigma'
            mode. Defaults to 0.5.

    Raises:
        ImportError: ``vis_backends`` has a ``TensorboardVisBackend`` and
            tensorboard is not installed (``pip install -e '.[tensorboard]'``).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[list] = None,
                 save_dir: Optional[str] = None,
                 vis_mode: Optional[str] = 'parts',
                 texture: Optional[Union[str, np.ndarray]] = None,
                 alpha: float = 0.6,
                 kpt_thr: float = 0.3,
                 draw_bbox: bool = True,
                 draw_keypoints: bool = True,
                 bbox_color: Tuple[int, int, int] = (255, 64, 64),
                 skeleton: Sequence[Tuple[int, int]] = drawing.COCO_SKELETON,
                 line_width: int = 2,
                 radius: int = 3,
                 num_contours: int = 10,
                 gt_alpha: float = 0.4,
                 point_radius: int = 2,
                 sigma_max: float = 0.5) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir)
        check_tensorboard_available(self)  # before the runner writes its config there
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        self.alpha = float(alpha)
        if not 0.0 <= gt_alpha <= 1.0:
            raise ValueError(f'gt_alpha must be in [0, 1], got {gt_alpha}')
        self.gt_alpha = float(gt_alpha)
        self.point_radius = int(point_radius)
        if sigma_max <= 0:
            raise ValueError(f'sigma_max must be > 0, got {sigma_max}')
        self.sigma_max = float(sigma_max)
        self.kpt_thr = float(kpt_thr)
        self.draw_bbox = draw_bbox
        self.draw_kpts = draw_keypoints
        self.bbox_color = tuple(bbox_color)
        self.skeleton = tuple(tuple(limb) for limb in skeleton)
        self.line_width = int(line_width)
        self.radius = int(radius)
        self.num_contours = int(num_contours)
        self.palette = drawing.fine_part_palette()
        self.coarse_palette = drawing.coarse_part_palette(self.palette)
        self.texture_tiles: Optional[np.ndarray] = None
        if texture is not None:
            self.set_texture(texture)
        self.vis_mode = self._check_mode(vis_mode)

    def _check_mode(self, vis_mode: Optional[str]) -> Optional[str]:
        if vis_mode is not None and vis_mode not in VIS_MODES:
            raise ValueError(f'vis_mode must be one of {VIS_MODES} or None, got {vis_mode!r}')
        if vis_mode == 'texture' and self.texture_tiles is None:
            raise ValueError("vis_mode='texture' needs a texture atlas (`texture`)")
        return vis_mode

    def set_texture(self, texture: Union[str, np.ndarray]) -> None:
        """Set the texture atlas: an image file or an RGB (6T, 4T, 3) array."""
        if isinstance(texture, (str, os.PathLike)):
            atlas = cv2.imread(str(texture), cv2.IMREAD_COLOR)
            if atlas is None:
                raise FileNotFoundError(f'cannot read texture atlas {texture}')
            atlas = cv2.cvtColor(atlas, cv2.COLOR_BGR2RGB)
        else:
            atlas = np.asarray(texture, np.uint8)
        self.texture_tiles = drawing.split_texture_atlas(atlas)

    def _draw_densepose_gt(self, img: np.ndarray, targets: DensePoseTargets, boxes: np.ndarray,
                           order: np.ndarray, vis_mode: str) -> None:
        """Coarse masks, then the annotated points of ground-truth instances."""
        if len(targets) != len(boxes):
            raise ValueError(f'{len(targets)} DensePose targets for {len(boxes)} boxes')
        color_by = vis_mode if vis_mode in ('u', 'v') else 'parts'
        for i in order:
            if bool(targets.has_segm[i]):
                drawing.draw_coarse_segm(img, to_numpy(targets.segms[i]), boxes[i],
                                         self.gt_alpha, self.coarse_palette)
        for i in order:
            drawing.draw_dp_points(img, to_numpy(targets.points[i]), boxes[i], color_by,
                                   self.point_radius, self.palette)

    def _draw_densepose(self, img: np.ndarray, densepose, boxes: np.ndarray, order: np.ndarray,
                        vis_mode: str) -> None:
        if isinstance(densepose, DensePoseTargets):
            self._draw_densepose_gt(img, densepose, boxes, order, vis_mode)
            return
        if len(densepose) != len(boxes):
            raise ValueError(f'{len(densepose)} DensePose charts for {len(boxes)} boxes')
        for i in order:
            labels = to_numpy(densepose.labels[i])
            uv = to_numpy(densepose.uv[i])
            if vis_mode == 'parts':
                drawing.draw_densepose_parts(img, labels, boxes[i], self.alpha, self.palette)
            elif vis_mode in ('u', 'v'):
                drawing.draw_densepose_uv(img, labels, uv, boxes[i],
                                          0 if vis_mode == 'u' else 1, self.alpha,
                                          self.num_contours)
            elif vis_mode == 'sigma':
                variance = densepose.confidence('sigma_2', i) if hasattr(
                    densepose, 'confidence') else None
                if variance is None:
                    raise ValueError(f"vis_mode='sigma': instance {i} has no U/V confidence "
                                     "(confidences['sigma_2']); the model needs "
                                     'uv_confidence (detectron2 WC1 / WC2)')
                sigma = np.sqrt(np.clip(to_numpy(variance), 0, None)) / self.sigma_max
                drawing.draw_densepose_uv(img, labels, np.stack([sigma, sigma]), boxes[i], 0,
                                          self.alpha, num_contours=0)
            else:
                drawing.draw_densepose_texture(img, labels, uv, boxes[i], self.texture_tiles)

    def draw_instances(self,
                       image: np.ndarray,
                       instances: InstanceData,
                       score_thr: float = 0.3,
                       vis_mode: Optional[str] = 'default',
                       kpt_thr: Optional[float] = None) -> np.ndarray:
        """Draw predicted (or ground-truth) instances on a copy of ``image``.

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB image.
            instances (InstanceData): ``bboxes`` (N, 4) xyxy and optionally
                ``scores`` (N,), ``labels`` (N,), ``keypoints`` (N, K, 2),
                ``keypoint_scores`` (N, K) (or ``keypoints_visible``) and
                ``densepose`` (predicted charts or ground-truth
                :class:`~mmdensekd.structures.DensePoseTargets`).
            score_thr (float): Instances scoring below are not drawn.
            vis_mode (str | None): Overrides the DensePose mode of the
                visualiser ('default' keeps it).
            kpt_thr (float, optional): Overrides the keypoint threshold.

        Returns:
            np.ndarray: The drawn (H, W, 3) uint8 RGB image.
        """
        vis_mode = self.vis_mode if vis_mode == 'default' else self._check_mode(vis_mode)
        kpt_thr = self.kpt_thr if kpt_thr is None else kpt_thr
        img = np.ascontiguousarray(image, dtype=np.uint8).copy()
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'image must be (H, W, 3), got shape {img.shape}')
        if 'bboxes' not in instances or len(instances) == 0:
            return img
        boxes = to_numpy(instances.bboxes).reshape(-1, 4).astype(np.float32)
        scores = (to_numpy(instances.scores).reshape(-1)
                  if 'scores' in instances else np.ones(len(boxes), np.float32))
        keep = np.nonzero(scores >= score_thr)[0]
        order = keep[np.argsort(scores[keep], kind='stable')]  # best drawn last, on top

        if vis_mode is not None and 'densepose' in instances:
            self._draw_densepose(img, instances.densepose, boxes, order, vis_mode)
        if self.draw_bbox:
            classes = (self.dataset_meta or {}).get('classes')
            labels = (to_numpy(instances.labels).reshape(-1)
                      if 'labels' in instances else np.zeros(len(boxes), np.int64))
            for i in order:
                name = (classes[int(labels[i])] if classes is not None
                        and 0 <= int(labels[i]) < len(classes) else f'class {int(labels[i])}')
                text = f'{name} {scores[i]:.2f}' if 'scores' in instances else name
                drawing.draw_box(img, boxes[i], self.bbox_color, text, self.line_width)
        if self.draw_kpts and 'keypoints' in instances:
            keypoints = to_numpy(instances.keypoints)
            if 'keypoint_scores' in instances:
                kpt_scores = to_numpy(instances.keypoint_scores)
            elif 'keypoints_visible' in instances:
                kpt_scores = to_numpy(instances.keypoints_visible)
            else:
                kpt_scores = np.ones(keypoints.shape[:2], np.float32)
            for i in order:
                drawing.draw_keypoints(img, keypoints[i], kpt_scores[i], kpt_thr,
                                       self.skeleton, self.radius, self.line_width)
        return img

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> np.ndarray:
        """Draw a data sample; show it, write it to ``out_file`` or send it
        to the visualisation backends.

        Ground truth (boxes, keypoints, DensePose masks and points;
        ``draw_gt``) is drawn on the left and predictions (``draw_pred``) on
        the right when both are drawn.

        Args:
            name (str): Image name (window title / backend key).
            image (np.ndarray): (H, W, 3) uint8 RGB image.
            data_sample (DetDataSample, optional): Sample with
                ``pred_instances`` and / or ``gt_instances``.
            draw_gt (bool): Draw ``gt_instances`` when the sample has them.
                Defaults to True.
            draw_pred (bool): Draw ``pred_instances``. Defaults to True.
            show (bool): Show the drawing in a window.
            wait_time (float): Seconds the window stays open.
            out_file (str, optional): Write the drawing here (as an image
                file) instead of to the backends.
            pred_score_thr (float): Score threshold of predictions.
            step (int): Global step for the backends.

        Returns:
            np.ndarray: The drawn RGB image.
        """
        panels = []
        if data_sample is not None and draw_gt and 'gt_instances' in data_sample:
            gt_mode = self.vis_mode if self.vis_mode in ('u', 'v') else 'parts'
            panels.append(self.draw_instances(image, data_sample.gt_instances, score_thr=0.0,
                                              vis_mode=gt_mode, kpt_thr=0.5))
        if data_sample is not None and draw_pred and 'pred_instances' in data_sample:
            panels.append(self.draw_instances(image, data_sample.pred_instances,
                                              score_thr=pred_score_thr))
        drawn = np.concatenate(panels, axis=1) if panels else np.array(image, np.uint8)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            out_dir = osp.dirname(osp.abspath(out_file))
            os.makedirs(out_dir, exist_ok=True)
            if not cv2.imwrite(out_file, cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                raise OSError(f'cannot write image file {out_file}')
        else:
            self.add_image(name, drawn, step)
        return drawn
