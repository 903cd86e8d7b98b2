"""Downlink: packets to TM frames to the radio, only while a ground station
sees the spacecraft, within the contact's bit rate.

Routing: a packet made during a contact goes out on the real-time virtual
channel (what the pass cannot carry goes to the store at LOS); a packet made
outside contacts goes to the store and is played back on the playback
channel during later contacts, oldest first. A stored packet is released
from the store only once its last octet has been framed and handed to the
radio; the release of what a step framed is written once, at the end of the
step. Each step sends at most what the link carries in one step period
(whole CADUs), real-time first, then a store dump's copies (dump_store: VC 2), then playback.
Store errors are counted, never fatal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from flight.ccsds.tm_frame import TmFrameConfig, TmFramer, cadu
from flight.interfaces import Radio
from flight.telemetry.store import StoreError


class StoredItem(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def data(self) -> bytes: ...


class Backlog(Protocol):
    """What the downlink needs of the packet store."""

    def append(self, data: bytes, t_ns: int, apid: int) -> int | None: ...

    def append_batch(self, items: Sequence[tuple[bytes, int, int]]) -> list[int] | None: ...

    def peek(self, max_records: int, *, after_seq: int = -1) -> Sequence[StoredItem]: ...

    def release(self, up_to_seq: int) -> None: ...


REFILL_RECORDS = 64  # stored packets one refill looks ahead at (and pushes at most)


class Downlink:
    name = "downlink"

    def __init__(self, radio: Radio, config: TmFrameConfig, store: Backlog, period_ns: int,
                 realtime_vc: int = 0, playback_vc: int = 1, dump_vc: int = 2) -> None:
        self.radio = radio
        self.config = config
        self.store = store
        self.period_ns = period_ns
        self.realtime_vc = realtime_vc
        self.playback_vc = playback_vc
        self.dump_vc = dump_vc
        self._dump: deque[bytes] = deque()  # copies of stored packets a dump command asked for
        self._dump_done: list[Callable[[int], None]] = []  # told (t_ns) when the dumps queued so far are sent
        self.packets_dumped = 0
        self.framer = TmFramer(config)
        self._in_flight: deque[tuple[int, int]] = deque()  # (store seq, octets) pushed on the playback VC
        self._pushed_playback = 0  # octets pushed on the playback VC and not yet accounted as framed
        self._carry_bits = 0.0
        self.frames_sent = 0
        self.packets_realtime = 0
        self.packets_stored = 0
        self.packets_played_back = 0
        self.store_errors = 0
        self._realtime: deque[tuple[int, int, bytes]] = deque()  # made in a contact, not yet framed
        self._release_due: int | None = None  # a release that failed: retried next step
        self._framed_up_to: int | None = None  # stored packets framed this step, released at its end
        self._ahead: deque[StoredItem] = deque()  # stored packets peeked this step, not yet pushed

    def reset(self, t_ns: int) -> None:
        self._carry_bits = 0.0

    def on_packet(self, tag: int, t_ns: int, packet: bytes) -> None:
        """A new packet from a producer (tag: its APID)."""
        if self.radio.in_contact():
            self._realtime.append((tag, t_ns, packet))
            self.packets_realtime += 1
        else:
            self._store(tag, t_ns, packet)

    def store_packet(self, tag: int, t_ns: int, packet: bytes) -> None:
        """A packet for playback only (a job's result): straight to the store, even during a contact."""
        self._store(tag, t_ns, packet)

    def on_packets(self, packets: Sequence[tuple[int, int, bytes]]) -> None:
        """on_packet() for each (tag, t_ns, packet), in order, made in the same step: the ones for the
        store are written to it together (one write) when the store can do so."""
        if len(packets) < 2 or self.radio.in_contact():
            for tag, t_ns, packet in packets:
                self.on_packet(tag, t_ns, packet)
            return
        try:
            seqs = self.store.append_batch([(packet, t_ns, tag) for tag, t_ns, packet in packets])
        except StoreError:
            seqs = None  # the store counted the failed write: one by one, each counted on its own
        if seqs is None:
            for tag, t_ns, packet in packets:
                self._store(tag, t_ns, packet)
        else:
            self.packets_stored += len(seqs)

    def queue_dump(self, packets: Sequence[bytes], done: Callable[[int], None] | None = None) -> int:
        """Downlink copies of stored packets (a store dump) on the dump virtual channel, after the real-time
        packets and before the playback of the store in the next contacts; done(t_ns) once they are all sent.
        The store is not touched: what it releases is unchanged. Returns how many were queued."""
        self._dump.extend(packets)
        if done is not None:
            if packets:
                self._dump_done.append(done)
            else:
                done(0)
        return len(packets)

    @property
    def dump_pending(self) -> int:
        return len(self._dump)

    def _store(self, tag: int, t_ns: int, packet: bytes) -> None:
        try:
            seq = self.store.append(packet, t_ns, tag)
        except (StoreError, ValueError):
            self.store_errors += 1  # counted: the store says why in its own counters
            return
        if seq is not None:
            self.packets_stored += 1

    def step(self, t_ns: int) -> None:
        if self._release_due is not None:
            self._release(self._release_due)
        if not self.radio.in_contact():
            self._carry_bits = 0.0
            # real-time packets the pass did not carry go to the store rather than wait in memory
            while self._realtime:
                tag, t, pkt = self._realtime.popleft()
                self.packets_realtime -= 1
                self._store(tag, t, pkt)
            return
        self._carry_bits += self.radio.downlink_bps() * self.period_ns * 1e-9
        frame_bits = 8 * self.config.cadu_length
        frames = int(self._carry_bits // frame_bits)
        self._carry_bits -= frames * frame_bits
        field = self.config.data_field_len
        self._ahead.clear()  # what the store holds may have changed since the last step
        for _ in range(frames):
            while self._realtime and self.framer.pending(self.realtime_vc) < field:
                self.framer.push(self.realtime_vc, self._realtime.popleft()[2])
            if self.framer.pending(self.realtime_vc):
                self._send(self.framer.frame(self.realtime_vc))
                continue
            while self._dump and self.framer.pending(self.dump_vc) < field:
                self.framer.push(self.dump_vc, self._dump.popleft())
                self.packets_dumped += 1
            if self.framer.pending(self.dump_vc):
                self._send(self.framer.frame(self.dump_vc))
                if not self._dump and not self.framer.pending(self.dump_vc):
                    done, self._dump_done = self._dump_done, []
                    for tell in done:
                        tell(t_ns)
                continue
            if self.framer.pending(self.playback_vc) < field:
                self._refill(field - self.framer.pending(self.playback_vc))
            if not self.framer.pending(self.playback_vc):
                break  # nothing to send: the carried capacity is lost, as on a real link
            before = self.framer.pending(self.playback_vc)
            self._send(self.framer.frame(self.playback_vc))
            self._account_framed(before - self.framer.pending(self.playback_vc))
        if self._framed_up_to is not None:
            seq, self._framed_up_to = self._framed_up_to, None
            self._release(seq)

    def _refill(self, want: int) -> None:
        """Push stored packets newer than those already in flight onto the playback VC until
        `want` octets are queued, at most REFILL_RECORDS of them (selected by store sequence
        number, so records the store dropped or skipped meanwhile cannot shift the selection)."""
        got = 0
        if self._in_flight:
            last = self._in_flight[-1][0]
        else:
            last = self._framed_up_to if self._framed_up_to is not None else -1
        ahead = self._ahead
        while ahead and ahead[0].seq <= last:
            ahead.popleft()
        for _ in range(REFILL_RECORDS):
            if not ahead:
                ahead.extend(self.store.peek(REFILL_RECORDS, after_seq=last))
                if not ahead:
                    break
            it = ahead.popleft()
            self.framer.push(self.playback_vc, it.data)
            self._in_flight.append((it.seq, len(it.data)))
            last = it.seq
            got += len(it.data)
            if got >= want:
                break

    def _account_framed(self, octets: int) -> None:
        """Note the stored packets whose last octet has now been framed (released at the end of the step)."""
        self._pushed_playback += octets
        while self._in_flight and self._in_flight[0][1] <= self._pushed_playback:
            seq, n = self._in_flight.popleft()
            self._pushed_playback -= n
            self._framed_up_to = seq
            self.packets_played_back += 1

    def _release(self, seq: int) -> None:
        try:
            self.store.release(seq)
            self._release_due = None
        except StoreError:
            self.store_errors += 1
            self._release_due = seq  # the checkpoint could not be written: try again next step

    def _send(self, frame: bytes) -> None:
        self.radio.send(cadu(frame, self.config))
        self.frames_sent += 1
