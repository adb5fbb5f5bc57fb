# Copyright (c) mmdensekd contributors. All rights reserved.
"""Validation of DensePose-COCO ground truth, shared by the dataset and the
evaluator so that both give the same clear error (or the same counted skip).

Checked, each error naming the annotation file and the image / annotation id:

* image ids are unique (COCO's index would silently keep the last entry);
* every annotation names a known image and a category of ``categories``;
* boxes are 4 finite numbers (not strings) with positive width and height;
* keypoints are finite ``x, y, v`` triples with visibility ``v >= 0``;
* the DensePose fields (see :func:`parse_densepose`): equal array lengths,
  ``dp_I`` in 1..24, ``dp_U``/``dp_V`` in [0, 1], 14 masks, well-formed RLE
  (checked before ``pycocotools`` decodes it, which never validates).

With ``skip_invalid=True`` the offending item is dropped instead and counted
(:class:`GTValidationReport`); the caller logs the counts.
"""
import math
import numbers
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .densepose_parsing import DP_POINT_KEYS, parse_densepose

__all__ = ['GTValidationReport', 'check_bbox', 'check_keypoints', 'validate_densepose_gt']


@dataclass
class GTValidationReport:
    """Counts of what :func:`validate_densepose_gt` dropped.

    Attributes:
        duplicate_images (int): Images dropped because their id repeats.
        orphan_annotations (int): Annotations of unknown / dropped images.
        unknown_category (int): Annotations of a category id not listed.
        invalid_bbox (int): Annotations with a non-finite or empty box.
        invalid_densepose (int): Annotations whose DensePose fields were
            removed (the box stays).
        invalid_keypoints (int): Annotations dropped for keypoints that are
            not finite ``x, y, v`` triples with ``v >= 0``.
        messages (list[str]): The first few reasons, for the log.
    """
    duplicate_images: int = 0
    orphan_annotations: int = 0
    unknown_category: int = 0
    invalid_bbox: int = 0
    invalid_densepose: int = 0
    invalid_keypoints: int = 0
    messages: List[str] = field(default_factory=list)

    def add(self, kind: str, message: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.messages) < 5:
            self.messages.append(message)

    @property
    def total(self) -> int:
        return (self.duplicate_images + self.orphan_annotations + self.unknown_category
                + self.invalid_bbox + self.invalid_densepose + self.invalid_keypoints)

    def summary(self, source: str) -> str:
        """One log line with the counts and the first reasons."""
        counts = ', '.join(f'{k.replace("_", " ")}: {v}' for k, v in self.counts().items() if v)
        first = '; '.join(self.messages)
        return f'{source}: skipped invalid ground truth ({counts}); first: {first}'

    def counts(self) -> Dict[str, int]:
        return dict(duplicate_images=self.duplicate_images,
                    orphan_annotations=self.orphan_annotations,
                    unknown_category=self.unknown_category, invalid_bbox=self.invalid_bbox,
                    invalid_densepose=self.invalid_densepose,
                    invalid_keypoints=self.invalid_keypoints)


def check_bbox(bbox, where: str) -> List[float]:
    """Check a COCO ``[x, y, w, h]`` box.

    Args:
        bbox: The ``bbox`` field.
        where (str): Location for the message (file, image id, annotation id).

    Returns:
        list[float]: The box as floats.

    Raises:
        ValueError: Not 4 numbers, NaN / Inf, or width / height <= 0.
    """
    # strings ('10' or the whole box as one string) are refused, not parsed:
    # COCO's tools would compare them with numbers later, far from the file
    if not isinstance(bbox, (list, tuple)) or not all(
            isinstance(c, numbers.Real) and not isinstance(c, bool) for c in bbox):
        raise ValueError(f'{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}')
    box = [float(c) for c in bbox]
    if len(box) != 4:
        raise ValueError(f'{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}')
    if not all(math.isfinite(c) for c in box):
        raise ValueError(f'{where}: bbox {box} holds NaN or infinite values')
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f'{where}: bbox {box} has width or height <= 0')
    return box


def check_keypoints(keypoints, where: str) -> None:
    """Check a COCO ``keypoints`` field: ``x, y, v`` triples of finite
    numbers with visibility ``v >= 0`` (COCO: 0 unlabelled, 1 occluded, 2
    visible).

    Args:
        keypoints: The ``keypoints`` field (None or empty: nothing to check).
        where (str): Location for the message.

    Raises:
        ValueError: naming the keypoint and the bad value.
    """
    if keypoints is None or (isinstance(keypoints, (list, tuple)) and not keypoints):
        return
    if not isinstance(keypoints, (list, tuple)) or len(keypoints) % 3 or not all(
            isinstance(c, numbers.Real) and not isinstance(c, bool) for c in keypoints):
        raise ValueError(f'{where}: keypoints must be a flat list of x, y, v numbers, got '
                         f'{str(keypoints)[:80]}')
    for k in range(len(keypoints) // 3):
        x, y, v = (float(c) for c in keypoints[3 * k:3 * k + 3])
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(v)):
            raise ValueError(f'{where}: keypoint {k} ({x}, {y}, v={v}) is not finite')
        if v < 0:
            raise ValueError(f'{where}: keypoint {k} has visibility {v:g} < 0 (COCO: 0 '
                             'unlabelled, 1 occluded, 2 visible)')


def validate_densepose_gt(gt: dict, source: str, skip_invalid: bool = False,
                          check_densepose: bool = True,
                          report: Optional[GTValidationReport] = None) -> GTValidationReport:
    """Validate (and with ``skip_invalid`` clean) a COCO ground truth.

    With ``skip_invalid`` the ``images`` and ``annotations`` lists of ``gt``
    are replaced in place by the kept items (annotation dicts themselves are
    never modified: one without its DensePose fields is a new dict).

    Args:
        gt (dict): COCO json (``images``, ``annotations``, ``categories``).
        source (str): The annotation file, named in every message.
        skip_invalid (bool): Drop and count invalid items instead of raising.
            Duplicate image ids drop every image of that id and its
            annotations (which of them an annotation belongs to is unknown);
            invalid DensePose fields drop those fields only.
        check_densepose (bool): Also check the DensePose fields (the dataset
            parses them itself and passes False).
        report (GTValidationReport, optional): Counts to add to.

    Returns:
        GTValidationReport: What was dropped (all zero without skipping).

    Raises:
        ValueError: On the first invalid item when ``skip_invalid`` is False;
            the message names ``source`` and the image / annotation id.
        KeyError: A top-level list is missing.
    """
    report = report or GTValidationReport()
    for key in ('images', 'annotations'):
        if not isinstance(gt.get(key), list):
            raise KeyError(f'{source}: no {key!r} list')
    images = gt['images']
    ids = Counter(img.get('id') for img in images)
    dup = sorted((i for i, n in ids.items() if n > 1), key=str)
    if dup:
        msg = (f'{source}: image id {dup[0]} appears {ids[dup[0]]} times in "images" '
               f'({len(dup)} duplicated ids); each image needs a unique id, or its '
               'annotations would land on the wrong pixels')
        if not skip_invalid:
            raise ValueError(msg)
        for i in dup:
            for _ in range(ids[i]):
                report.add('duplicate_images', msg)
        images[:] = [img for img in images if ids[img.get('id')] == 1]
    img_ids = {img.get('id') for img in images}
    # without a "categories" list (a bare evaluation dict) categories are not checked
    cat_ids = ({c.get('id') for c in gt['categories']}
               if isinstance(gt.get('categories'), list) else None)

    kept = []
    for ann in gt['annotations']:
        where = (f'{source}: image id {ann.get("image_id")}, annotation id '
                 f'{ann.get("id")}')
        try:
            if ann.get('image_id') not in img_ids:
                kind = 'orphan_annotations'
                raise ValueError(f'{where}: image id not in "images"'
                                 + (' (dropped as duplicate)' if dup else ''))
            if cat_ids is not None and ann.get('category_id') not in cat_ids:
                kind = 'unknown_category'
                raise ValueError(f'{where}: category id {ann.get("category_id")!r} is not '
                                 f'in "categories" {sorted(cat_ids, key=str)}')
            kind = 'invalid_bbox'
            check_bbox(ann.get('bbox'), where)
            kind = 'invalid_keypoints'
            check_keypoints(ann.get('keypoints'), where)
        except ValueError as err:
            if not skip_invalid:
                raise
            report.add(kind, str(err))
            continue
        if check_densepose:
            try:
                parse_densepose(ann, where)
            except ValueError as err:
                if not skip_invalid:
                    raise
                report.add('invalid_densepose', str(err))
                # a copy: the caller's annotation dicts are never modified
                ann = {k: v for k, v in ann.items() if k not in DP_POINT_KEYS + ('dp_masks', )}
        kept.append(ann)
    gt['annotations'][:] = kept
    return report
