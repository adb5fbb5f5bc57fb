# Copyright (c) mmdensekd contributors. All rights reserved.
"""Named module outputs for distillation, generic over architectures.

A name is a module path of ``model.named_modules()`` with an optional output
index: ``'neck.0'`` (first element of the neck's tuple output),
``'neck.fpn_convs.0'`` (that conv's output), ``'backbone.layer4'``, or a
whole module's output (``'neck'``).
"""
from contextlib import contextmanager
from typing import Dict, Iterable, Iterator, Optional, Tuple

from torch import nn


def parse_feature_name(model: nn.Module, name: str, key: str,
                       role: str) -> Tuple[str, Optional[int]]:
    """Resolve a feature name into a module path and an output index.

    The longest dotted prefix of ``name`` that names a sub-module of
    ``model`` is the module; an integer remainder indexes its (tuple)
    output, e.g. ``'neck.0'`` -> (``'neck'``, 0) (FPN P2 for an FPN from P2)
    and ``'neck.fpn_convs.0'`` -> (``'neck.fpn_convs.0'``, None).

    Args:
        model (nn.Module): The teacher or the student.
        name (str): Feature name.
        key (str): The config key being wired (for error messages).
        role (str): ``'teacher'`` or ``'student'`` (for error messages).

    Returns:
        tuple[str, int | None]: Module path and output index (None = whole
        output).

    Raises:
        ValueError: When no prefix names a module or the rest is not an int.
    """
    modules = dict(model.named_modules())
    parts = name.split('.')
    for cut in range(len(parts), 0, -1):
        path = '.'.join(parts[:cut])
        if path in modules and path != '':
            rest = parts[cut:]
            if not rest:
                return path, None
            if len(rest) == 1 and rest[0].lstrip('-').isdigit():
                return path, int(rest[0])
            break
    top = sorted({n.split('.')[0] for n in modules if n})
    raise ValueError(f'distill_losses[{key!r}]: unknown {role} feature {name!r} '
                     f'({type(model).__name__} has top-level modules {top}; give a module '
                     'path with an optional output index)')


class FeatureRecorder:
    """Records the outputs of named sub-modules during one forward pass.

    Forward hooks exist only inside :meth:`record`; their handles are removed
    on exit even when the forward raises.

    Args:
        model (nn.Module): The model whose modules are recorded.
        module_names (Iterable[str]): Module paths (``named_modules`` keys).
    """

    def __init__(self, model: nn.Module, module_names: Iterable[str]) -> None:
        self.model = model
        self.module_names = sorted(set(module_names))
        self.outputs: Dict[str, object] = {}

    @contextmanager
    def record(self) -> Iterator[Dict[str, object]]:
        """Context in which the named modules' outputs are stored.

        Yields:
            dict: module path -> its latest output.
        """
        self.outputs = {}
        modules = dict(self.model.named_modules())
        handles = []
        try:
            for path in self.module_names:
                handles.append(modules[path].register_forward_hook(self._make_hook(path)))
            yield self.outputs
        finally:
            for h in handles:
                h.remove()

    def _make_hook(self, path: str):

        def hook(module, args, output):
            self.outputs[path] = output

        return hook

    def get(self, path: str, index: Optional[int], key: str, role: str):
        """A recorded feature.

        Args:
            path (str): Module path.
            index (int | None): Output index.
            key (str): Config key (for error messages).
            role (str): ``'teacher'`` or ``'student'``.

        Returns:
            Tensor | tuple: The output, or its ``index``-th element.
        """
        if path not in self.outputs:
            raise KeyError(f'distill_losses[{key!r}]: {role} module {path!r} was not run in '
                           'the forward pass')
        out = self.outputs[path]
        if index is None:
            return out
        if not isinstance(out, (tuple, list)):
            raise ValueError(f'distill_losses[{key!r}]: {role} module {path!r} returns a '
                             f'{type(out).__name__}, it cannot be indexed by {index}')
        if not -len(out) <= index < len(out):
            raise ValueError(f'distill_losses[{key!r}]: {role} feature {path}.{index} is out '
                             f'of range, {path!r} returns {len(out)} maps')
        return out[index]
