"""A UART cable in software: relays octets between two file descriptors at a baud rate, and can flip
bits, drop octets, or be unplugged.

`PtyRelay` makes two pseudo-terminal pairs and relays between their master ends; the slave ends are
`port_a` and `port_b`, device paths that pyserial (`hil.transport.open_port`) opens like a real serial
port. `Relay` does the same between any two file descriptors (pty masters, sockets).

Line model, per direction: octets are taken from the source only as the line can carry them, at
``baud / 10`` octets per second (8N1: start bit, 8 data bits, stop bit), each delivered once its last
bit has left. A writer that outruns the line fills the kernel buffer and waits, as with a real UART.
The relay wakes at least every `quantum_ns` while the line is busy and passes on every octet due by
then, so octets arrive in small bursts, never early. An idle line starts again when data comes.
With ``baud=None`` octets pass as fast as they come.

Faults, per direction, from a seeded generator (the same seed and the same octets give the same
faults, whatever the timing): each data bit flips with probability `ber`; each octet is dropped with
probability `drop_rate` (its line time still passes). `unplug()` discards everything until `plug()`.
When the far end does not read, the relay stops taking octets from the source (no overrun loss).

Counters (`RelayStats`, per direction and summed): octets relayed (delivered), bits flipped, octets
dropped, octets lost while unplugged.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import select
import selectors
import threading
import time
import tty
from dataclasses import dataclass

__all__ = ["DirectionStats", "PtyRelay", "Relay", "RelayStats"]

_READ_MAX = 1 << 16


@dataclass(slots=True)
class DirectionStats:
    bytes_relayed: int = 0
    bits_flipped: int = 0
    bytes_dropped: int = 0
    bytes_lost_unplugged: int = 0


@dataclass(frozen=True, slots=True)
class RelayStats:
    a_to_b: DirectionStats
    b_to_a: DirectionStats

    @property
    def bytes_relayed(self) -> int:
        return self.a_to_b.bytes_relayed + self.b_to_a.bytes_relayed

    @property
    def bits_flipped(self) -> int:
        return self.a_to_b.bits_flipped + self.b_to_a.bits_flipped

    @property
    def bytes_dropped(self) -> int:
        return self.a_to_b.bytes_dropped + self.b_to_a.bytes_dropped


class _Gaps:
    """Distances between independent events of probability p (geometric), one after another."""

    def __init__(self, rng: random.Random, p: float) -> None:
        self.rng = rng
        self.p = p
        self._log = math.log1p(-p) if 0 < p < 1 else 0.0
        self.left = self._draw()

    def _draw(self) -> int:
        if self.p <= 0:
            return 1 << 62
        if self.p >= 1:
            return 0
        return int(math.log(1.0 - self.rng.random()) / self._log)

    def positions(self, n: int) -> list[int]:
        """Which of the next n trials are events."""
        out = []
        pos = self.left
        while pos < n:
            out.append(pos)
            pos += 1 + self._draw()
        self.left = pos - n
        return out


class _Direction:
    def __init__(self, src: int, dst: int, seed: int, ber: float, drop_rate: float) -> None:
        self.src, self.dst = src, dst
        rng = random.Random(seed)
        self.flips = _Gaps(random.Random(rng.random()), ber)
        self.drops = _Gaps(random.Random(rng.random()), drop_rate)
        self.idle = True
        self.t_next = 0.0  # when the next octet would finish, line busy
        self.pending = bytearray()  # delivered by the line, not yet taken by the far end
        self.stats = DirectionStats()

    def corrupt(self, data: bytes, plugged: bool) -> bytes:
        if not plugged:
            self.stats.bytes_lost_unplugged += len(data)
            return b""
        buf = bytearray(data)
        flips = self.flips.positions(8 * len(buf))
        for bit in flips:
            buf[bit >> 3] ^= 0x80 >> (bit & 7)
        self.stats.bits_flipped += len(flips)
        drops = self.drops.positions(len(buf))
        if drops:
            self.stats.bytes_dropped += len(drops)
            for i in reversed(drops):
                del buf[i]
        return bytes(buf)


class Relay:
    """Relays between fd_a and fd_b in a background thread (see the module docstring)."""

    def __init__(self, fd_a: int, fd_b: int, *, baud: int | None = None, ber: float = 0.0, drop_rate: float = 0.0,
                 seed: int = 0, quantum_ns: int = 500_000) -> None:
        if baud is not None and baud <= 0:
            raise ValueError(f"baud must be > 0, got {baud}")
        if not 0 <= ber <= 1 or not 0 <= drop_rate <= 1:
            raise ValueError("ber and drop_rate are probabilities in 0..1")
        self.baud = baud
        self.octet_ns = 10e9 / baud if baud else 0.0
        self.quantum_ns = quantum_ns
        for fd in (fd_a, fd_b):
            os.set_blocking(fd, False)
        self._ab = _Direction(fd_a, fd_b, seed * 2 + 1, ber, drop_rate)
        self._ba = _Direction(fd_b, fd_a, seed * 2 + 2, ber, drop_rate)
        self._plugged = True
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    # ------------------------------------------------------------------ control

    @property
    def stats(self) -> RelayStats:
        return RelayStats(self._ab.stats, self._ba.stats)

    def unplug(self) -> None:
        """Pull the cable: octets sent either way are lost until plug()."""
        self._plugged = False

    def plug(self) -> None:
        self._plugged = True

    def start(self) -> Relay:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hil-relay", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (octets in flight are not delivered) and close what the relay opened."""
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ loop

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported through .error; the thread must not die silently
            self.error = exc

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        registered: dict[int, int] = {}
        while not self._stop.is_set():
            now = time.monotonic_ns()
            wait_ns: float | None = None
            want: dict[int, int] = {}
            for d in (self._ab, self._ba):
                self._service(d, now)
                if d.pending:
                    want[d.dst] = want.get(d.dst, 0) | selectors.EVENT_WRITE
                elif d.idle or not self.octet_ns:
                    want[d.src] = want.get(d.src, 0) | selectors.EVENT_READ
                else:
                    due = max(d.t_next - now, self.quantum_ns)
                    wait_ns = due if wait_ns is None else min(wait_ns, due)
            for fd in set(registered) | set(want):
                ev = want.get(fd, 0)
                if ev == registered.get(fd, 0):
                    continue
                if not ev:
                    sel.unregister(fd)
                    del registered[fd]
                elif fd in registered:
                    sel.modify(fd, ev)
                    registered[fd] = ev
                else:
                    sel.register(fd, ev)
                    registered[fd] = ev
            for key, _ in sel.select(None if wait_ns is None else wait_ns / 1e9):
                if key.fd == self._wake_r:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 64)
        sel.close()

    def _service(self, d: _Direction, now: int) -> None:
        if d.pending and not self._flush(d):
            return
        if not self.octet_ns:
            data = _read(d.src, _READ_MAX)
            if data:
                d.pending += d.corrupt(data, self._plugged)
                self._flush(d)
            return
        if d.idle:
            # A new burst: its first octet finishes one octet time after we noticed it.
            if not _readable(d.src):
                return
            d.idle = False
            d.t_next = now + self.octet_ns
        if now < d.t_next:
            return
        due = int((now - d.t_next) // self.octet_ns) + 1
        data = _read(d.src, min(due, _READ_MAX))
        d.t_next += len(data) * self.octet_ns
        if len(data) < due:
            d.idle = True  # the source ran dry: the line went idle
        if data:
            d.pending += d.corrupt(data, self._plugged)
            self._flush(d)

    @staticmethod
    def _flush(d: _Direction) -> bool:
        """Write what the far end takes; True when nothing is left."""
        while d.pending:
            try:
                n = os.write(d.dst, d.pending)
            except BlockingIOError:
                d.idle = True  # the line stalls until the far end reads; its clock restarts then
                return False
            except OSError:
                d.stats.bytes_lost_unplugged += len(d.pending)  # the far end is gone
                d.pending.clear()
                return True
            d.stats.bytes_relayed += n
            del d.pending[:n]
        return True


def _read(fd: int, n: int) -> bytes:
    try:
        return os.read(fd, n)
    except (BlockingIOError, InterruptedError):
        return b""
    except OSError:
        return b""  # EIO: the other side of a pty is closed


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


class PtyRelay(Relay):
    """Two pseudo-terminals joined by a relay: open `port_a` at one end, `port_b` at the other."""

    def __init__(self, *, baud: int | None = None, ber: float = 0.0, drop_rate: float = 0.0, seed: int = 0,
                 quantum_ns: int = 500_000) -> None:
        self._fds: list[int] = []
        names = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)
            self._fds += [master, slave]  # the relay keeps the slave open: closing a client is no hang-up
            names.append(os.ttyname(slave))
        self.port_a, self.port_b = names
        super().__init__(self._fds[0], self._fds[2], baud=baud, ber=ber, drop_rate=drop_rate, seed=seed,
                         quantum_ns=quantum_ns)

    def _close(self) -> None:
        super()._close()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
