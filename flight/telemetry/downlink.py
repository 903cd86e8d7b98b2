"""Downlink: packets to TM frames to the radio, only while a ground station
sees the spacecraft, within the contact's bit rate.

Routing: a packet made during a contact goes out on the real-time virtual
channel (what the pass cannot carry goes to the store at LOS); a packet made
outside contacts goes to the store and is played back on the playback
channel during later contacts, oldest first. A stored packet is released
from the store only once its last octet has been framed and handed to the
radio; the release of what a step framed is written once, at the end of the
step. Store errors are counted, never fatal.

Data products (a job's result) have a store of their own, played back on
their own virtual channel ahead of the stored housekeeping: a product is
what the mission flies for, and a housekeeping backlog (a slow link) must
not bury it (data products are downlinked by priority, apart from
telemetry, as in F Prime's data product catalog). Without a products store,
products go to the housekeeping store.

Each step sends at most what the link carries in one step period (whole
CADUs), in this order: real-time (VC 0), a store dump's copies (dump_store,
VC 2), products playback (VC 3), housekeeping playback (VC 1).
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
    """What the downlink needs of a packet store."""

    def append(self, data: bytes, t_ns: int, apid: int) -> int | None: ...

    def append_batch(self, items: Sequence[tuple[bytes, int, int]]) -> list[int] | None: ...

    def peek(self, max_records: int, *, after_seq: int = -1) -> Sequence[StoredItem]: ...

    def release(self, up_to_seq: int) -> None: ...


REFILL_RECORDS = 64  # stored packets one refill looks ahead at (and pushes at most)


class Playback:
    """One store played back on one virtual channel: what is in flight, what a step framed, and its release."""

    def __init__(self, store: Backlog, framer: TmFramer, vc: int) -> None:
        self.store = store
        self.framer = framer
        self.vc = vc
        self.played_back = 0
        self.errors = 0
        self._in_flight: deque[tuple[int, int]] = deque()  # (store seq, octets) pushed on the VC
        self._pushed = 0  # octets pushed on the VC and not yet accounted as framed
        self._release_due: int | None = None  # a release that failed: retried next step
        self._framed_up_to: int | None = None  # stored packets framed this step, released at its end
        self._ahead: deque[StoredItem] = deque()  # stored packets peeked this step, not yet pushed

    def begin_step(self) -> None:
        """Retry a failed release; forget what was peeked (what the store holds may have changed)."""
        if self._release_due is not None:
            self._release(self._release_due)
        self._ahead.clear()

    def frame(self, field: int) -> bytes | None:
        """The next frame of stored packets, or None when the store has nothing to send."""
        framer, vc = self.framer, self.vc
        if framer.pending(vc) < field:
            self._refill(field - framer.pending(vc))
        before = framer.pending(vc)
        if not before:
            return None
        frame = framer.frame(vc)
        self._account_framed(before - framer.pending(vc))
        return frame

    def end_step(self) -> None:
        """Release what this step framed."""
        if self._framed_up_to is not None:
            seq, self._framed_up_to = self._framed_up_to, None
            self._release(seq)

    def _refill(self, want: int) -> None:
        """Push stored packets newer than those already in flight onto the VC until `want` octets are
        queued, at most REFILL_RECORDS of them (selected by store sequence number, so records the store
        dropped or skipped meanwhile cannot shift the selection)."""
        got = 0
        if self._in_flight:
            last = self._in_flight[-1][0]
        else:
            last = self._framed_up_to if self._framed_up_to is not None else -1
        ahead = self._ahead
        while ahead and ahead[0].seq <= last:
            ahead.popleft()
        batch: list[StoredItem] = []  # what is pushed, in order
        for _ in range(REFILL_RECORDS):
            if not ahead:
                try:
                    ahead.extend(self.store.peek(REFILL_RECORDS, after_seq=last))
                except StoreError:
                    self.errors += 1  # counted; this store sends nothing more this step, the others go on
                    break
                if not ahead:
                    break
            it = ahead.popleft()
            batch.append(it)
            last = it.seq
            got += len(it.data)
            if got >= want:
                break
        if not batch:
            return
        datas = [it.data for it in batch]
        if self.framer.push_many(self.vc, datas):
            self._in_flight.extend([(it.seq, len(d)) for it, d in zip(batch, datas, strict=True)])
            return
        for it in batch:  # one by one: the framer says which packet it refuses, with those before it queued
            self.framer.push(self.vc, it.data)
            self._in_flight.append((it.seq, len(it.data)))

    def _account_framed(self, octets: int) -> None:
        """Note the stored packets whose last octet has now been framed (released at the end of the step)."""
        self._pushed += octets
        while self._in_flight and self._in_flight[0][1] <= self._pushed:
            seq, n = self._in_flight.popleft()
            self._pushed -= n
            self._framed_up_to = seq
            self.played_back += 1

    def _release(self, seq: int) -> None:
        try:
            self.store.release(seq)
            self._release_due = None
        except StoreError:
            self.errors += 1
            self._release_due = seq  # the checkpoint could not be written: try again next step


class Downlink:
    name = "downlink"

    def __init__(self, radio: Radio, config: TmFrameConfig, store: Backlog, period_ns: int,
                 realtime_vc: int = 0, playback_vc: int = 1, dump_vc: int = 2, *,
                 products: Backlog | None = None, products_vc: int = 3) -> None:
        if len({realtime_vc, playback_vc, dump_vc, products_vc}) != 4:
            raise ValueError("the downlink's virtual channels must differ")
        self.radio = radio
        self.config = config
        self.store = store
        self.products = products
        self._products_to = products if products is not None else store  # where a data product is stored
        self.period_ns = period_ns
        self.realtime_vc = realtime_vc
        self.playback_vc = playback_vc
        self.dump_vc = dump_vc
        self.products_vc = products_vc
        self._dump: deque[bytes] = deque()  # copies of stored packets a dump command asked for
        self._dump_done: list[Callable[[int], None]] = []  # told (t_ns) when the dumps queued so far are sent
        self.packets_dumped = 0
        self.framer = TmFramer(config)
        # in priority order: the products store first
        self.playbacks: tuple[Playback, ...] = (
            ((Playback(products, self.framer, products_vc),) if products is not None else ())
            + (Playback(store, self.framer, playback_vc),))
        self._carry_bits = 0.0
        self.frames_sent = 0
        self.packets_realtime = 0
        self.packets_stored = 0
        self._store_errors = 0
        self._realtime: deque[tuple[int, int, bytes]] = deque()  # made in a contact, not yet framed

    @property
    def packets_played_back(self) -> int:
        return sum(p.played_back for p in self.playbacks)

    @property
    def store_errors(self) -> int:
        return self._store_errors + sum(p.errors for p in self.playbacks)

    def reset(self, t_ns: int) -> None:
        self._carry_bits = 0.0

    def on_packet(self, tag: int, t_ns: int, packet: bytes) -> None:
        """A new packet from a producer (tag: its APID)."""
        if self.radio.in_contact():
            self._realtime.append((tag, t_ns, packet))
            self.packets_realtime += 1
        else:
            self._store(self.store, tag, t_ns, packet)

    def store_packet(self, tag: int, t_ns: int, packet: bytes) -> None:
        """A data product's packet (a job's result): straight to the products store (the housekeeping
        store without one), for playback only, even during a contact."""
        self._store(self._products_to, tag, t_ns, packet)

    def store_packets(self, packets: Sequence[tuple[int, int, bytes]]) -> None:
        """store_packet() for each (tag, t_ns, packet), in order: written to the store together (one write)
        when the store can do so."""
        self._store_batch(self._products_to, packets)

    def _store_batch(self, store: Backlog, packets: Sequence[tuple[int, int, bytes]]) -> None:
        """_store() for each (tag, t_ns, packet), in order, as one write when the store can do so."""
        if len(packets) < 2:
            for tag, t_ns, packet in packets:
                self._store(store, tag, t_ns, packet)
            return
        try:
            seqs = store.append_batch([(packet, t_ns, tag) for tag, t_ns, packet in packets])
        except StoreError:
            seqs = None  # the store counted the failed write: one by one, each counted on its own
        if seqs is None:
            for tag, t_ns, packet in packets:
                self._store(store, tag, t_ns, packet)
        else:
            self.packets_stored += len(seqs)

    def on_packets(self, packets: Sequence[tuple[int, int, bytes]]) -> None:
        """on_packet() for each (tag, t_ns, packet), in order, made in the same step: the ones for the
        store are written to it together (one write) when the store can do so."""
        if len(packets) < 2 or self.radio.in_contact():
            for tag, t_ns, packet in packets:
                self.on_packet(tag, t_ns, packet)
            return
        self._store_batch(self.store, packets)

    def queue_dump(self, packets: Sequence[bytes], done: Callable[[int], None] | None = None) -> int:
        """Downlink copies of stored packets (a store dump) on the dump virtual channel, after the real-time
        packets and before the playback of the stores in the next contacts; done(t_ns) once they are all sent.
        The stores are not touched: what they release is unchanged. Returns how many were queued."""
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

    def _store(self, store: Backlog, tag: int, t_ns: int, packet: bytes) -> None:
        try:
            seq = store.append(packet, t_ns, tag)
        except (StoreError, ValueError):
            self._store_errors += 1  # counted: the store says why in its own counters
            return
        if seq is not None:
            self.packets_stored += 1

    def step(self, t_ns: int) -> None:
        playbacks = self.playbacks
        for pb in playbacks:
            pb.begin_step()
        if not self.radio.in_contact():
            self._carry_bits = 0.0
            # real-time packets the pass did not carry go to the store rather than wait in memory
            while self._realtime:
                tag, t, pkt = self._realtime.popleft()
                self.packets_realtime -= 1
                self._store(self.store, tag, t, pkt)
            return
        self._carry_bits += self.radio.downlink_bps() * self.period_ns * 1e-9
        frame_bits = 8 * self.config.cadu_length
        frames = int(self._carry_bits // frame_bits)
        self._carry_bits -= frames * frame_bits
        field = self.config.data_field_len
        framer = self.framer
        for _ in range(frames):
            while self._realtime and framer.pending(self.realtime_vc) < field:
                framer.push(self.realtime_vc, self._realtime.popleft()[2])
            if framer.pending(self.realtime_vc):
                self._send(framer.frame(self.realtime_vc))
                continue
            if self._dump or framer.pending(self.dump_vc):
                self._send(self._dump_frame(t_ns, field))
                continue
            for pb in playbacks:
                frame = pb.frame(field)
                if frame is not None:
                    self._send(frame)
                    break
            else:
                break  # nothing to send: the carried capacity is lost, as on a real link
        for pb in playbacks:
            pb.end_step()

    def _dump_frame(self, t_ns: int, field: int) -> bytes:
        framer = self.framer
        while self._dump and framer.pending(self.dump_vc) < field:
            framer.push(self.dump_vc, self._dump.popleft())
            self.packets_dumped += 1
        frame = framer.frame(self.dump_vc)
        if not self._dump and not framer.pending(self.dump_vc):
            done, self._dump_done = self._dump_done, []
            for tell in done:
                tell(t_ns)
        return frame

    def _send(self, frame: bytes) -> None:
        self.radio.send(cadu(frame, self.config))
        self.frames_sent += 1
