"""The sequencer: one writer thread that batches concurrent appends into one transaction.

Callers hand in already-encoded entries and block until the batch holding them has committed, so
`submit` returns only once the entries are durable. A failure fails every caller of that batch and
writes nothing (the transaction rolls back).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from shugu.errors import UnavailableError
from shugu.i18n import N_

log = logging.getLogger(__name__)
T = TypeVar("T")

_STOP = object()


class Sequencer(Generic[T]):
    """Batches items from many threads into calls of `write(items) -> indices`."""

    def __init__(self, write: Callable[[list[T]], list[int]], *, max_batch: int = 5000) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, items: Sequence[T]) -> list[int]:
        """Queue `items` and wait until they are committed; return their indices."""
        if not items:
            return []
        future: Future[list[int]] = Future()
        with self._lock:
            if self._closed:
                raise UnavailableError(N_("the ledger is closed"))
            self._start()
            self._queue.put((list(items), future))
        return future.result()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="ledger-sequencer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            count = len(first[0])  # type: ignore[index]
            while count < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
                count += len(item[0])  # type: ignore[index]
            self._flush(batch)  # type: ignore[arg-type]

    def _flush(self, batch: list[tuple[list[T], Future[list[int]]]]) -> None:
        items = [item for chunk, _ in batch for item in chunk]
        try:
            indices = self._write(items)
        except BaseException as exc:  # every waiter learns why its batch failed
            log.warning("ledger.batch_failed", extra={"fields": {"entries": len(items)}})
            for _, future in batch:
                future.set_exception(exc)
            return
        offset = 0
        for chunk, future in batch:
            future.set_result(indices[offset : offset + len(chunk)])
            offset += len(chunk)

    def close(self) -> None:
        """Finish queued work and stop the writer thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout=30)
