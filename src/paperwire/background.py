"""Daemon threads that sleep until woken or until their poll interval passes (the transactional mail
sender, the arXiv submission fetcher): one shape, so starting, waking and stopping work the same."""

from __future__ import annotations

import abc
import threading


class Wakers:
    """The wake-up events of one kind of worker in this process: `wake_all()` rouses every one at once."""

    def __init__(self) -> None:
        self._events: set[threading.Event] = set()
        self._lock = threading.Lock()

    def add(self, event: threading.Event) -> None:
        with self._lock:
            self._events.add(event)

    def discard(self, event: threading.Event) -> None:
        with self._lock:
            self._events.discard(event)

    def wake_all(self) -> None:
        with self._lock:
            for event in self._events:
                event.set()


class WakeableWorker(abc.ABC):
    """A daemon thread running `_run` (a subclass's loop over `_wait()`), woken through `wakers`."""

    def __init__(self, wakers: Wakers, name: str, *, poll_seconds: float, join_seconds: float) -> None:
        self.wakers = wakers
        self.poll_seconds = poll_seconds
        self.join_seconds = join_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.wakers.add(self._wake)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.wakers.discard(self._wake)
        self._thread.join(timeout=self.join_seconds)

    def _wait(self, seconds: float) -> None:
        """Sleep until woken, stopped or `seconds` passed."""
        self._wake.wait(seconds)
        self._wake.clear()

    @abc.abstractmethod
    def _run(self) -> None:
        """The worker's loop: until `_stop` is set, do a pass, then `_wait()` (each subclass has its own)."""
