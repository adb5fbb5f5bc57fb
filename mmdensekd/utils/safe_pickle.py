# Copyright (c) mmdensekd contributors. All rights reserved.
"""Restricted unpickling: numpy arrays, numpy scalars and plain containers only.

Every pickle the project reads (detectron2 ``.pkl`` checkpoints, DensePose's
``Pdist_matrix.pkl``) goes through :func:`safe_load_pickle`, so a crafted file
can never name a callable (``os.system``, ``builtins.eval``, ...) that the
unpickler would run.
"""
import pickle
from typing import Any

__all__ = ['SafeUnpickler', 'safe_load_pickle']


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy array/scalar globals and
    ``collections.OrderedDict``; any other global raises
    :class:`pickle.UnpicklingError` naming it."""

    ALLOWED = frozenset({
        ('collections', 'OrderedDict'),
        ('numpy', 'ndarray'),
        ('numpy', 'dtype'),
        ('numpy.core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'),
        ('numpy._core.multiarray', '_reconstruct'),
        ('numpy._core.multiarray', 'scalar'),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED or (module == 'numpy.dtypes'
                                              and name.endswith('DType')):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refused global {module}.{name}: only numpy arrays, '
                                     'numpy scalars and plain containers may be unpickled')


def safe_load_pickle(path: str, encoding: str = 'latin1') -> Any:
    """Load ``path`` with :class:`SafeUnpickler`.

    Args:
        path (str): The pickle file.
        encoding (str): How Python 2 ``str`` objects are decoded.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file is not a pickle or names a refused global; the
            message names the file and the global.
    """
    try:
        with open(path, 'rb') as f:
            return SafeUnpickler(f, encoding=encoding).load()
    except FileNotFoundError:
        raise FileNotFoundError(f'pickle file {path} does not exist') from None
    except Exception as err:  # noqa: BLE001 - any unpickling failure names the file
        raise ValueError(f'cannot safely read pickle {path}: {err}') from err
