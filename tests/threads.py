"""Running a blocking call in a test's background thread, keeping what it raised for the test to check."""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_thread(run: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    """Start run() in a daemon thread; the list gets whatever it raised (the test asserts it stays empty)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    th = threading.Thread(target=target, daemon=True)
    th.start()
    return th, errors
