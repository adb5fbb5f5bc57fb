# Copyright (c) mmdensekd contributors. All rights reserved.
"""Early, clear errors for visualisation backends with optional dependencies."""
import importlib.util

from mmengine.visualization import Visualizer

#: How to install the optional TensorBoard dependency.
TENSORBOARD_HINT = ("TensorboardVisBackend needs the optional `tensorboard` package: "
                    "pip install -e '.[tensorboard]' (or pip install tensorboard)")


def check_tensorboard_available(visualizer: Visualizer) -> None:
    """Raise a clear ImportError when a TensorBoard backend is configured but
    ``tensorboard`` is not installed (mmengine would fail later, when the
    runner first writes to it, with a message that does not name our extra).

    Args:
        visualizer (Visualizer): The visualiser whose backends are checked.

    Raises:
        ImportError: A ``TensorboardVisBackend`` is configured and neither
            ``tensorboard`` nor ``tensorboardX`` is importable.
    """
    backends = getattr(visualizer, '_vis_backends', {}) or {}
    uses_tb = any(type(b).__name__ == 'TensorboardVisBackend' for b in backends.values())
    if uses_tb and importlib.util.find_spec('tensorboard') is None \
            and importlib.util.find_spec('tensorboardX') is None:
        raise ImportError(TENSORBOARD_HINT)
