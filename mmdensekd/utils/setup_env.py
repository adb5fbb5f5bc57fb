# Copyright (c) mmdensekd contributors. All rights reserved.
"""Environment set-up shared by tools, demos and tests."""
from mmengine.registry import DefaultScope

from .checkpoint_compat import allow_mmengine_checkpoint_globals


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmdensekd module so that it is registered, and make
    ``mmdet`` the default scope (our configs set ``default_scope='mmdet'``).

    Unlike ``mmpose.utils.register_all_modules`` this never imports
    ``mmpose.visualization`` / ``mmpose.apis`` (they need torchvision).
    It also allow-lists the globals of mmengine resume checkpoints for
    ``torch.load(weights_only=True)``
    (:func:`~mmdensekd.utils.allow_mmengine_checkpoint_globals`).

    Args:
        init_default_scope (bool): Whether to make ``mmdet`` the default
            scope when none is set.
    """
    allow_mmengine_checkpoint_globals()
    import mmdet.datasets  # noqa: F401
    import mmdet.engine  # noqa: F401
    import mmdet.evaluation  # noqa: F401
    import mmdet.models  # noqa: F401
    import mmpose.codecs  # noqa: F401
    import mmpose.models  # noqa: F401

    import mmdensekd.datasets  # noqa: F401
    import mmdensekd.engine  # noqa: F401
    import mmdensekd.evaluation  # noqa: F401
    import mmdensekd.models  # noqa: F401
    import mmdensekd.visualization  # noqa: F401
    if init_default_scope and DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance('mmdensekd', scope_name='mmdet')
