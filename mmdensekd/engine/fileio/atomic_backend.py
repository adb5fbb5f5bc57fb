# Copyright (c) mmdensekd contributors. All rights reserved.
"""A local mmengine storage backend whose writes are atomic.

Registered as ``'atomic_local'``: ``get_file_backend(path,
backend_args=dict(backend='atomic_local'))`` returns it, and so does every
mmengine component that takes ``backend_args`` (``CheckpointHook``,
``Runner.save_checkpoint``, ``mmengine.fileio.dump``).
"""
import errno
import os
import os.path as osp
import threading
from pathlib import Path
from typing import Dict, List, Union

from mmengine.fileio import LocalBackend, register_backend

from mmdensekd.utils.misc import PARTIAL_SUFFIX, partial_name

__all__ = ['AtomicLocalBackend', 'PARTIAL_SUFFIX', 'fsync_dir']


def fsync_dir(path: str) -> None:
    """Flush a directory entry (a rename) to disk where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. directories cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put`` / ``put_text`` never leave a truncated
    file and whose ``remove`` waits for the next complete write.

    * ``put`` / ``put_text`` write a hidden ``.<name>.partial`` file beside the
      target, flush it to disk and move it over the target with ``os.replace``
      (atomic on POSIX and Windows): the target is the old complete file or
      the new complete file, never a part of one. On a failed write (a full
      disk, a read-only directory, an interrupt) the partial file is removed
      and an ``OSError`` naming the target is raised (same ``errno``);
      removals waiting for that write are dropped (the files stay).
    * ``remove`` of a file (or directory) is carried out after the next
      complete write into the same directory. ``CheckpointHook`` deletes the oldest checkpoint
      *before* writing the new one; with this backend the old one stays until
      the new one is complete, so a kill during the save never leaves the run
      without a checkpoint. Pending removals are shared by every instance of
      the backend in the process.

    Args:
        **kwargs: Arguments of ``LocalBackend`` (none today).
    """

    _pending: Dict[str, List[str]] = {}
    _lock = threading.Lock()

    @staticmethod
    def _dir_key(filepath: Union[str, Path]) -> str:
        return osp.dirname(osp.abspath(str(filepath)))

    def _write_atomic(self, data: Union[bytes, str], filepath: Union[str, Path],
                      encoding: str = 'utf-8') -> None:
        filepath = str(filepath)
        directory = osp.dirname(osp.abspath(filepath))
        os.makedirs(directory, exist_ok=True)
        tmp = partial_name(filepath)
        try:
            if isinstance(data, bytes):
                f = open(tmp, 'wb')
            else:
                f = open(tmp, 'w', encoding=encoding)
            with f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException as exc:
            with self._lock:  # the files due for removal stay: no new one replaced them
                self._pending.pop(directory, None)
            if osp.lexists(tmp):
                try:
                    os.remove(tmp)
                except OSError:
                    pass
            if isinstance(exc, OSError):
                reason = exc.strerror or str(exc)
                if exc.errno == errno.ENOSPC:
                    reason += ' (disk full: free space or point work_dir elsewhere)'
                raise OSError(exc.errno, f'could not write {filepath}: {reason}; the '
                              'previous file (if any) is unchanged') from exc
            raise
        fsync_dir(directory)
        self._flush_removals(directory, keep=osp.abspath(filepath))

    def _flush_removals(self, directory: str, keep: str) -> None:
        with self._lock:
            paths = self._pending.pop(directory, [])
        for path in paths:
            if osp.abspath(path) == keep:
                continue
            if osp.isfile(path):
                os.remove(path)
            elif osp.isdir(path):  # checkpoints saved by deepspeed are directories
                super().rmtree(path)

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (see the class docstring).

        Raises:
            OSError: The write failed; names ``filepath``.
        """
        self._write_atomic(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (see the class docstring).

        Raises:
            OSError: The write failed; names ``filepath``.
        """
        self._write_atomic(obj, filepath, encoding=encoding)

    def remove(self, filepath: Union[str, Path]) -> None:
        """Remove ``filepath`` after the next complete write into its
        directory."""
        if not osp.exists(filepath):
            raise FileNotFoundError(f'{filepath} does not exist')
        with self._lock:
            self._pending.setdefault(self._dir_key(filepath), []).append(str(filepath))

    def rmtree(self, dir_path: Union[str, Path]) -> None:
        """Remove the directory ``dir_path`` after the next complete write
        beside it."""
        self.remove(dir_path)


register_backend('atomic_local', AtomicLocalBackend)
