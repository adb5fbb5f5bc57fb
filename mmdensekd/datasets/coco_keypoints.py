# Copyright (c) mmdensekd contributors. All rights reserved.
"""COCO person keypoint meta information shared by datasets and transforms."""

#: The 17 COCO person keypoints, in annotation order.
COCO_KEYPOINT_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
                       'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
                       'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
                       'right_knee', 'left_ankle', 'right_ankle')

#: Number of COCO person keypoints.
NUM_COCO_KEYPOINTS = len(COCO_KEYPOINT_NAMES)

#: COCO-17 skeleton (0-based keypoint indices).
COCO_SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
                 (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5),
                 (4, 6))

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
