# Copyright (c) mmdensekd contributors. All rights reserved.
"""COCO person keypoint meta information shared by datasets and transforms."""

#: The 17 COCO person keypoints, in annotation order.
COCO_KEYPOINT_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
                       'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
                       'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
                       'right_knee', 'left_ankle', 'right_ankle')

#: Number of COCO person keypoints.
NUM_COCO_KEYPOINTS = len(COCO_KEYPOINT_NAMES)

#: Left/right keypoint index pairs (0-based) that swap under a horizontal flip.
COCO_KEYPOINT_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14),
                            (15, 16))


def flip_indices_from_pairs(num_keypoints: int, flip_pairs) -> tuple:
    """Return ``idx`` such that ``kpts_flipped = kpts[idx]`` after a flip.

    Args:
        num_keypoints (int): Number of keypoints ``K``.
        flip_pairs (Sequence[Sequence[int]]): Left/right index pairs.

    Returns:
        tuple[int]: A permutation of ``range(K)``.
    """
    indices = list(range(num_keypoints))
    for left, right in flip_pairs:
        indices[left], indices[right] = right, left
    return tuple(indices)


#: ``keypoints[..., COCO_KEYPOINT_FLIP_INDICES, :]`` swaps left and right.
COCO_KEYPOINT_FLIP_INDICES = flip_indices_from_pairs(NUM_COCO_KEYPOINTS,
                                                     COCO_KEYPOINT_FLIP_PAIRS)
