# Copyright (c) mmdensekd contributors. All rights reserved.
"""Chunks of independent work shared by the calling process and forked
worker processes (used by the DensePose evaluation to read charts).

The caller needs the chunks in order (:meth:`SharedChunks.wait`); the
workers take the next unclaimed chunk from a shared counter and send back
what the caller needs. Whenever the chunk the caller needs is not back yet,
the caller works too: on the next unclaimed chunk, or, when every chunk is
claimed, on the one it needs itself (the worker's copy is then dropped).
So the caller never waits on a worker: on a machine whose other cores are
busy the caller does most chunks and the workers cost little; with free
cores the workers do most of them. The outcome (results, and the first
error in chunk order) is the same whoever does a chunk.
"""
import gc
import multiprocessing as mp
import sys
from typing import Any, Callable, Dict, List, Optional


class SharedChunks:
    """Prepare ``num_chunks`` chunks in this process and in forked workers.

    Args:
        num_chunks (int): number of chunks.
        prepare (Callable[[int], None]): prepare chunk n (in the process
            that runs it; may raise).
        export (Callable[[int], Any]): in a worker, what chunk n's result
            is for the caller (picklable).
        apply (Callable[[int, Any], None]): in the caller, store a worker's
            export of chunk n.
        processes (int): forked workers (besides the caller; fewer where
            the system forks no more).
    """

    def __init__(self, num_chunks: int, prepare: Callable[[int], None],
                 export: Callable[[int], Any], apply: Callable[[int, Any], None],
                 processes: int) -> None:
        self.num_chunks = num_chunks
        self._prepare, self._export, self._apply = prepare, export, apply
        self._done = [False] * num_chunks
        self._errors: Dict[int, BaseException] = {}
        ctx = mp.get_context('fork')
        self._next = ctx.Value('q', 0)  # the next unclaimed chunk
        self._queue = ctx.SimpleQueue()
        self._workers: List[mp.Process] = []
        # what is buffered now would be written again by each worker
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        # Objects that exist now are left out of the workers' garbage
        # collections, which would otherwise touch (and so copy) every page
        # of the parsed JSON.
        gc.freeze()
        try:
            for _ in range(max(0, processes)):
                worker = ctx.Process(target=self._work, daemon=True)
                try:
                    worker.start()
                except OSError:  # no more processes here: the caller does their share
                    break
                self._workers.append(worker)
        finally:
            gc.unfreeze()

    def _claim(self) -> Optional[int]:
        with self._next.get_lock():
            n = self._next.value
            if n >= self.num_chunks:
                return None
            self._next.value = n + 1
        return n

    def _work(self) -> None:
        """A worker's loop: claim, prepare, send (stops at an error)."""
        while True:
            n = self._claim()
            if n is None:
                return
            try:
                self._prepare(n)
                message = (n, True, self._export(n))
            except BaseException as err:  # noqa: BLE001 - sent to the caller
                message = (n, False, err)
            try:
                self._queue.put(message)
            except Exception as err:  # noqa: BLE001 - e.g. an unpicklable error
                self._queue.put((n, False, RuntimeError(f'chunk {n}: {err!r}')))
            if not message[1]:
                return

    def _run_here(self, n: int) -> None:
        try:
            self._prepare(n)
        except BaseException as err:  # noqa: BLE001 - raised when chunk n is needed
            self._errors[n] = err
        self._done[n] = True

    def _receive(self) -> None:
        """Store every result the workers have sent so far."""
        while not self._queue.empty():
            try:
                n, ok, data = self._queue.get()
            except Exception:  # noqa: BLE001 - e.g. an error type that does not unpickle
                continue  # its chunk stays undone: done here when it is needed
            if self._done[n]:
                continue  # done here meanwhile
            if ok:
                self._apply(n, data)
            else:
                self._errors[n] = data
            self._done[n] = True

    def wait(self, n: int) -> None:
        """Make chunk ``n`` ready in this process; raise its error, if any."""
        while not self._done[n]:
            if self._workers:
                self._receive()
                if self._done[n]:
                    break
            m = self._claim()
            self._run_here(n if m is None else m)
        if n in self._errors:
            raise self._errors.pop(n)

    def close(self) -> None:
        """Stop the workers (what they still do is not needed)."""
        with self._next.get_lock():
            self._next.value = self.num_chunks
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
        for worker in self._workers:
            worker.join()
        self._workers = []
        self._queue.close()
