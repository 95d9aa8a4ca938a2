"""Ctrl-C and SIGTERM, handled once.

During training the first SIGINT/SIGTERM only sets a flag: the training loop finishes the
current batch, restores the best weights and saves them with a report marked `interrupted`
(exit 130). Further signals are ignored while that save runs, as in Lightning, so a second
Ctrl-C cannot leave a half-written checkpoint. Outside `InterruptGuard`, Ctrl-C raises
KeyboardInterrupt as usual and the CLI turns it into exit 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType

_HANDLED = (signal.SIGINT, signal.SIGTERM)


class InterruptGuard:
    """Context manager that turns SIGINT/SIGTERM into a flag the training loop polls."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous: dict[int, object] = {}
        self._listeners: list[Callable[[], None]] = []
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, name: str = "request") -> None:
        """Ask the loop to stop as if a signal had arrived (used by tests and by `trial`)."""
        self.signal_name = self.signal_name or name
        self._event.set()
        self._notify()

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` (at once if a stop was already asked for) when a stop is requested.

        This is how a framework loop that polls its own flag stops without any per-batch work
        of ours: Keras checks `model.stop_training` after every batch, so the listener sets it.
        The callback runs in the signal handler, so it must only set flags. Returns a function
        that removes the listener.
        """
        self._listeners.append(callback)
        if self.requested:
            callback()

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self._event.is_set():
            self.signal_name = signal.Signals(signum).name
        self._event.set()
        self._notify()

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            for sig in _HANDLED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while a final save runs, so it cannot be cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _HANDLED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
