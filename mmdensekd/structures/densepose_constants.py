# Copyright (c) mmdensekd contributors. All rights reserved.
"""Constants of the DensePose-COCO format."""

#: Side of the square box frame in which ``dp_x``/``dp_y`` and ``dp_masks``
#: are expressed: ``x_img = x0 + dp_x * w / 256``.
DP_BOX_SIZE = 256
#: Number of fine body parts (``dp_I`` in 1..24); 0 is background.
NUM_FINE_PARTS = 24
#: Number of coarse parts (entries of ``dp_masks``); 0 is background.
NUM_COARSE_PARTS = 14

#: Names of the 14 coarse parts in ``dp_masks`` order.
COARSE_PART_NAMES = ('Torso', 'RHand', 'LHand', 'LFoot', 'RFoot', 'UpLegR', 'UpLegL',
                     'LowLegR', 'LowLegL', 'UpArmL', 'UpArmR', 'LowArmL', 'LowArmR',
                     'Head')

#: Label of the horizontally mirrored fine part, indexed by fine part label
#: (0 = background, 1..24 = parts).
FINE_PART_FLIP = (0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20,
                  19, 22, 21, 24, 23)

#: Label of the horizontally mirrored coarse part in the merged segmentation
#: (0 = background, 1..14 = ``dp_masks`` index + 1).
COARSE_PART_FLIP = (0, 1, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 14)

#: Coarse part (1..14) that contains each fine part (index 0 = background).
FINE_TO_COARSE = (0, 1, 1, 2, 3, 4, 5, 6, 7, 6, 7, 8, 9, 8, 9, 10, 11, 10, 11, 12, 13, 12,
                  13, 14, 14)
