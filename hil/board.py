"""The board's side of the flight interfaces in lockstep HIL: a Bus (with RegisterBatch), a Radio and a Clock
backed by the link to the host (see `hil.lockstep` for the session).

- `BoardBuses`: the I2C buses. Reads pushed with the TICK (the declared poll list) are served from it; every
  other transfer, writes included, is one BUS_BATCH round trip through `exchange`, in order, so the emulated
  chips see the very transfers, in the very order, of a SIL run. It records the reads each tick starts with
  and derives the next poll list from them.
- `LinkRadio`: contact state and downlink rate as the host last reported (RADIO_STATE); frames out through a
  callback (RADIO_TM); uplinked frames (RADIO_TC) held until `receive`.
- `TickClock`: simulated time, set from each TICK.
- `RealtimeBuses`: real-time mode's buses: every `read_registers` call and every transfer is one round trip
  (no pushed poll); a round trip that times out (`LinkTimeoutError` from `exchange`) fails as a bus fault would:
  the reads come back None, a transfer raises BusError, and the drivers' fault handling takes over.

No I/O here: `exchange` (one round trip) and the frame callback are given by the loop that owns the link
(`hil.fly`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from flight.clock import SimClock
from flight.interfaces import BusError
from hil.lockstep import PollGroup
from hil.messages import BusResult, BusStatus, BusTransfer, TransferResult

__all__ = ["BoardBuses", "DivergedError", "LinkBus", "LinkRadio", "LinkTimeoutError", "RealtimeBuses", "TickClock"]

Exchange = Callable[[tuple[BusTransfer, ...]], tuple[TransferResult, ...]]


class DivergedError(Exception):
    """The board did not use the pushed poll as declared: the emulator's reads no longer match a SIL run."""


class LinkTimeoutError(Exception):
    """No answer over the link in time (real-time mode): the transfer failed."""


class TickClock(SimClock):
    """The board's clock in lockstep: the time of the TICK being run."""


class LinkBus:
    """One I2C bus of the emulator, over the link (flight.interfaces Bus and RegisterBatch)."""

    def __init__(self, owner: BoardBuses | RealtimeBuses, number: int) -> None:
        self.owner = owner
        self.number = number

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        return self.owner.transfer(self.number, addr, write, read_len)

    def read_registers(self, ops: Sequence[tuple[int, int, int]]) -> list[int | None]:
        return self.owner.read_registers(self.number, ops)


def _word(r: TransferResult) -> int | None:
    return r.words[0] if r.ok and len(r.words) == 1 else None


class BoardBuses:
    """The board's buses and its side of the poll push (see the module docstring)."""

    def __init__(self, exchange: Exchange, count: int = 4,
                 failed_key: Callable[[], tuple[bool, ...]] = tuple) -> None:
        self.exchange = exchange
        self.buses = [LinkBus(self, k) for k in range(count)]
        self.failed_key = failed_key  # the devices' FAILED flags: a change means the poll may change
        self.declared: tuple[PollGroup, ...] = ()
        self.list_id = 0
        self.round_trips = 0
        self.pushed_groups = 0
        self._pushed: deque[tuple[PollGroup, list[int | None]]] = deque()
        self._prefix: list[tuple[PollGroup, bool]] | None = None  # reads this tick started with (group, failed)
        self._prefix_open = False
        self._key0: tuple[bool, ...] = ()

    # ------------------------------------------------------------------ tick life cycle

    def declare(self, groups: tuple[PollGroup, ...]) -> int:
        """Adopt a new poll list; returns its list_id (to send in POLL_LIST)."""
        self.declared = groups
        self.list_id = (self.list_id + 1) % 0x10000
        return self.list_id

    def start_tick(self, poll: BusResult | None) -> None:
        """Before the executive tick: the results the host pushed with the TICK (a prefix of the groups)."""
        self._pushed.clear()
        if poll is not None and poll.results:
            if poll.batch_id != self.list_id:
                raise DivergedError(f"the host pushed poll list {poll.batch_id}, the board declared {self.list_id}")
            pos = 0
            for group in self.declared:
                n = len(group[1])
                if pos + n > len(poll.results):
                    break
                self._pushed.append((group, [_word(r) for r in poll.results[pos:pos + n]]))
                pos += n
            if pos != len(poll.results):
                raise DivergedError(f"the host pushed {len(poll.results)} reads, not whole groups of the poll list")
        self.pushed_groups += len(self._pushed)
        self._prefix = []
        self._prefix_open = True
        self._key0 = self.failed_key()

    def end_tick(self) -> tuple[PollGroup, ...] | None:
        """After the tick: the poll list for the next ticks when it differs from the declared one, else None."""
        if self._pushed:
            raise DivergedError(f"the tick left {len(self._pushed)} pushed group(s) of reads unused")
        prefix = self._prefix or []
        self._prefix = None
        sure = bool(prefix) and not any(failed for _, failed in prefix) and self.failed_key() == self._key0
        nxt = tuple(g for g, _ in prefix) if sure else ()
        return None if nxt == self.declared else nxt

    def abandon(self) -> None:
        """Forget the tick in progress and the declared list (a new host session)."""
        self._pushed.clear()
        self._prefix = None
        self.declared = ()

    # ------------------------------------------------------------------ transfers

    def read_registers(self, bus: int, ops: Sequence[tuple[int, int, int]]) -> list[int | None]:
        group: PollGroup = (bus, tuple((int(a), int(r), int(w)) for a, r, w in ops))
        if self._pushed:
            want, words = self._pushed.popleft()
            if want != group:
                raise DivergedError(f"the tick read {len(ops)} registers on bus {bus} where the declared poll "
                                       f"has {len(want[1])} on bus {want[0]}")
        else:
            for _, _, width in group[1]:
                if width not in (1, 2):
                    raise ValueError(f"register width must be 1 or 2 octets, got {width}")
            self.round_trips += 1
            results = self.exchange(tuple(BusTransfer.read(a, r, w, 1, bus=bus) for a, r, w in group[1]))
            words = [_word(x) for x in results]
        if self._prefix is not None and self._prefix_open:
            self._prefix.append((group, None in words))
        return words

    def transfer(self, bus: int, addr: int, write: bytes, read_len: int) -> bytes:
        if self._pushed:
            raise DivergedError(f"a transfer to 0x{addr:02x} on bus {bus} came before the pushed poll reads")
        self._prefix_open = False  # later reads are no longer the start of the tick
        data = _check_transfer(addr, write, read_len)
        self.round_trips += 1
        (r,) = self.exchange((BusTransfer.raw(addr, data, read_len, bus=bus),))
        if r.status == BusStatus.OK:
            return r.data()
        if r.status == BusStatus.NACK:
            raise BusError(addr, "no acknowledge (NACK)")
        raise BusError(addr, "transfer rejected by the device")


def _check_transfer(addr: int, write: bytes, read_len: int) -> bytes:
    if not isinstance(addr, int) or not 0 <= addr <= 0x7F:
        raise BusError(int(addr) if isinstance(addr, int) else -1, "address out of the 7-bit range")
    if not isinstance(read_len, int) or isinstance(read_len, bool) or not 0 <= read_len <= 255:
        raise BusError(addr, f"read length must be an integer in 0..255, got {read_len!r}")
    data = bytes(write)
    if len(data) > 255:
        raise BusError(addr, f"write of {len(data)} octets (at most 255 over the link)")
    return data


class RealtimeBuses:
    """The board's buses in real-time mode (see the module docstring)."""

    def __init__(self, exchange: Exchange, count: int = 4) -> None:
        self.exchange = exchange
        self.buses = [LinkBus(self, k) for k in range(count)]
        self.round_trips = 0
        self.timeouts = 0

    def read_registers(self, bus: int, ops: Sequence[tuple[int, int, int]]) -> list[int | None]:
        for _, _, width in ops:
            if width not in (1, 2):
                raise ValueError(f"register width must be 1 or 2 octets, got {width}")
        self.round_trips += 1
        try:
            results = self.exchange(tuple(BusTransfer.read(int(a), int(r), int(w), 1, bus=bus) for a, r, w in ops))
        except LinkTimeoutError:
            self.timeouts += 1
            return [None] * len(ops)
        return [_word(x) for x in results]

    def transfer(self, bus: int, addr: int, write: bytes, read_len: int) -> bytes:
        data = _check_transfer(addr, write, read_len)
        self.round_trips += 1
        try:
            (r,) = self.exchange((BusTransfer.raw(addr, data, read_len, bus=bus),))
        except LinkTimeoutError:
            self.timeouts += 1
            raise BusError(addr, "no answer over the link in time") from None
        if r.status == BusStatus.OK:
            return r.data()
        if r.status == BusStatus.NACK:
            raise BusError(addr, "no acknowledge (NACK)")
        raise BusError(addr, "transfer rejected by the device")


class LinkRadio:
    """The radio as the host reports it (flight.interfaces Radio)."""

    def __init__(self, send_frame: Callable[[bytes], None]) -> None:
        self._send = send_frame
        self.contact = False
        self.bps = 0.0
        self.rx: list[bytes] = []
        self.frames_sent = 0

    def set_state(self, in_contact: bool, downlink_bps: float) -> None:
        self.contact = in_contact
        self.bps = downlink_bps

    def in_contact(self) -> bool:
        return self.contact

    def downlink_bps(self) -> float:
        return self.bps if self.contact else 0.0

    def send(self, frame: bytes) -> None:
        self.frames_sent += 1
        self._send(bytes(frame))

    def receive(self) -> list[bytes]:
        out, self.rx = self.rx, []
        return out
