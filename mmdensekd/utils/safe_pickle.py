# Copyright (c) mmdensekd contributors. All rights reserved.
"""Restricted unpickling: numpy arrays, numpy scalars and plain data only.

Every pickle the project reads (detectron2 ``.pkl`` checkpoints, DensePose's
``Pdist_matrix.pkl``) goes through :func:`safe_load_pickle`, so a crafted file
can never name a callable (``os.system``, ``builtins.eval``, ...) that the
unpickler would run.
"""
import pickle
from typing import Any

__all__ = ['SafeUnpickler', 'safe_load_pickle']


def _latin1_encode(obj: Any, encoding: str = 'utf-8', errors: str = 'strict') -> bytes:
    """The ``_codecs.encode`` that protocol 0-2 pickles written by Python 3
    use for every ``bytes`` object (numpy array buffers included):
    ``_codecs.encode(text, 'latin1')``.

    Only ``str`` -> ``bytes`` with a latin-1 / ascii / utf-8 codec is
    resolved, so a pickle cannot use it to reach any other codec.
    """
    if not isinstance(obj, str) or encoding.lower().replace('_', '-') not in _TEXT_CODECS:
        raise pickle.UnpicklingError(
            f'refused _codecs.encode({type(obj).__name__}, {encoding!r}): only str with the '
            f'codecs {sorted(_TEXT_CODECS)} may be encoded')
    return obj.encode(encoding, errors)


_TEXT_CODECS = frozenset({'latin1', 'latin-1', 'iso-8859-1', 'iso8859-1', 'l1', 'ascii',
                          'utf-8', 'utf8'})


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals plain data needs.

    Allowed: numpy arrays, dtypes and scalars (numpy 1 and 2 module names,
    ``_frombuffer`` of protocol 5), ``collections.OrderedDict``, the builtin
    data types that protocols 0-3 name as globals (``set``, ``frozenset``,
    ``bytearray``, ``complex``) and ``_codecs.encode``, bound to a version
    that only turns a ``str`` into ``bytes`` (how Python 3 writes ``bytes``
    with protocol <= 2). Every other global - anything that can run code,
    ``os.system``, ``builtins.eval``, ``subprocess``, dotted names - raises
    :class:`pickle.UnpicklingError` naming it.
    """

    ALLOWED = frozenset({
        ('collections', 'OrderedDict'),
        ('numpy', 'ndarray'),
        ('numpy', 'dtype'),
        ('numpy.core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'),
        ('numpy._core.multiarray', '_reconstruct'),
        ('numpy._core.multiarray', 'scalar'),
        ('numpy.core.numeric', '_frombuffer'),
        ('numpy._core.numeric', '_frombuffer'),
    } | {(mod, name) for mod in ('builtins', '__builtin__')
         for name in ('set', 'frozenset', 'bytearray', 'complex')})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ('_codecs', 'encode'):
            return _latin1_encode
        if (module, name) in self.ALLOWED or (module == 'numpy.dtypes'
                                              and name.endswith('DType')
                                              and '.' not in name):
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
