"""The I/O shell around a `Link`: moves octets between a port and the endpoint, waking on input or on
the endpoint's next deadline. The only part of the link that reads a clock and waits.

    pump = LinkPump(link, open_port(url, baud))
    while running:
        for msg in pump.service(0.05): ...   # at most 50 ms, less when bytes come or a timer is due
            link.send(...)                   # replies go out at the next service call, carrying the ack

`service_all` does the same for several pumps in one thread (both ends of a test rig, a bench).

A port with a file descriptor (a serial device, a pty, a socket) is waited on with select: output is
written as the port takes it, never blocking (open it with `hil.transport.open_port`: read and write
timeouts 0). A port without one (``loop://``, ``rfc2217://``) is
polled every `poll_interval_s`, writes blocking.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Sequence

from hil.link import Link, Message
from hil.transport import Port

__all__ = ["LinkPump", "service_all"]


class LinkPump:
    def __init__(self, link: Link, port: Port, clock: Callable[[], int] = time.monotonic_ns,
                 read_size: int = 1 << 16, poll_interval_s: float = 0.001) -> None:
        self.link = link
        self.port = port
        self.clock = clock
        self.read_size = read_size
        self.poll_interval_s = poll_interval_s
        self._out = bytearray()
        self.fd: int | None = None
        fileno = getattr(port, "fileno", None)
        if callable(fileno):
            try:
                fd = fileno()
            except (AttributeError, OSError, ValueError, NotImplementedError):
                fd = None
            self.fd = fd if isinstance(fd, int) and fd >= 0 else None

    @property
    def unsent(self) -> int:
        """Octets the endpoint produced that the port has not taken yet."""
        return len(self._out)

    def _writable(self) -> bool:
        return self.fd is None or bool(select.select([], [self.fd], [], 0)[1])

    def _write(self) -> None:
        """Write what the port takes now (with a descriptor: only while select says it is writable, since a
        non-blocking pyserial write would otherwise spin)."""
        while self._out and self._writable():
            n = self.port.write(bytes(self._out))
            n = len(self._out) if n is None else n
            if n <= 0:
                return
            del self._out[:n]

    def _prepare(self, timeout_s: float) -> float:
        """Produce and write output; returns how long this pump may wait."""
        now = self.clock()
        self._out += self.link.poll_output(now)
        self._write()
        deadline = self.link.next_deadline_ns()
        if deadline is None:
            return timeout_s
        return min(timeout_s, max(0.0, (deadline - now) / 1e9))

    def _take_input(self, readable: bool) -> list[Message]:
        if self.fd is not None:
            data = self.port.read(self.read_size) if readable else b""
        else:
            waiting = self.port.in_waiting
            data = self.port.read(waiting) if waiting else b""
        # Output is polled at the start of the next service call, after the caller has handled these
        # messages: a reply sent meanwhile carries the ack, instead of a standalone ACK going out first.
        return self.link.feed(data, self.clock()) if data else []

    def service(self, timeout_s: float) -> list[Message]:
        """Write the endpoint's output, wait up to timeout_s for input or its next deadline, feed what came.
        Returns the messages delivered."""
        return service_all([self], timeout_s)[0]


def service_all(pumps: Sequence[LinkPump], timeout_s: float) -> list[list[Message]]:
    """`LinkPump.service` for several pumps at once: one wait for whichever needs attention first.
    Returns each pump's delivered messages, in the order of pumps."""
    wait_s = min((p._prepare(timeout_s) for p in pumps), default=timeout_s)
    fds = [p.fd for p in pumps if p.fd is not None]
    if len(fds) < len(pumps):  # some port must be polled
        readable = set(select.select(fds, [], [], 0)[0]) if fds else set()
        if wait_s > 0 and not readable and not any(p.fd is None and p.port.in_waiting for p in pumps):
            time.sleep(min(wait_s, min(p.poll_interval_s for p in pumps)))
            readable = set(select.select(fds, [], [], 0)[0]) if fds else set()
    else:
        writers = [p.fd for p in pumps if p.fd is not None and p.unsent]
        readable = set(select.select(fds, writers, [], wait_s)[0])
    return [p._take_input(p.fd in readable) for p in pumps]
