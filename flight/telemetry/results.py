"""Job results as telemetry: a completed job's result cut into `job_result` packets (PUS 13 large
packet transfer parts of 1024 data octets), all time-stamped with the job's completion time, and
written to the packet store for playback, at most `parts_per_step` parts per step (the result is
streamed into the store, as a file copy would be, not in one burst). After each step
`on_progress(job_id, parts written, whole)` tells the scheduler, which journals it so that a reboot
resumes the writing where it stopped. The ground counts a job as delivered once every part of its
result has arrived (ground/jobs.py).

The result's content stands for what the job wrote: in a simulated or HIL run the accelerator is
emulated, so the octets are drawn from a generator seeded by the job id (the same job always gives
the same result, and it does not compress)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flight.dictionary import Dictionary

Sink = Callable[[int, int, bytes], None]  # (apid, t_ns, packet)
BatchSink = Callable[[Sequence[tuple[int, int, bytes]]], None]  # several (apid, t_ns, packet), in order


@dataclass
class _Pending:
    t_ns: int  # completion
    job_id: int
    output_bytes: int
    parts: int
    next_part: int = 0
    data: bytes = b""


class ResultWriter:
    name = "results"

    def __init__(self, dictionary: Dictionary, sink: Sink, cuc_offset_ns: int = 0, parts_per_step: int = 256,
                 batch_sink: BatchSink | None = None) -> None:
        if parts_per_step < 1:
            raise ValueError("parts_per_step must be >= 1")
        self.packet = dictionary.packet("job_result")
        self.block = self.packet.field("data").bits // 8
        self.sink = sink
        # if given, the parts a step writes of one job go there together, in order, instead of to sink
        # (before on_progress tells the scheduler they are written)
        self.batch_sink = batch_sink
        self.cuc_offset_ns = cuc_offset_ns
        self.parts_per_step = parts_per_step
        self.on_progress: Callable[[int, int, bool], None] = lambda job_id, parts, whole: None
        self._queue: deque[_Pending] = deque()
        self._seq = 0
        self.parts_written = 0
        self.bytes_written = 0

    def parts_for(self, output_bytes: int) -> int:
        return max(1, -(-output_bytes // self.block))

    def add(self, t_ns: int, job_id: int, output_bytes: int, first_part: int = 0) -> None:
        """A job completed at t_ns: queue its result (from first_part, when a reboot interrupted it)."""
        parts = self.parts_for(output_bytes)
        self._queue.append(_Pending(t_ns, job_id, output_bytes, parts, min(max(first_part, 0), parts)))

    @property
    def pending_parts(self) -> int:
        return sum(p.parts - p.next_part for p in self._queue)

    @property
    def pending_bytes(self) -> int:
        """Result octets still to write to the store."""
        return sum(max(p.output_bytes - p.next_part * self.block, 0) for p in self._queue)

    def reset(self, t_ns: int) -> None:
        pass

    def step(self, t_ns: int) -> None:
        budget = self.parts_per_step
        enc = self.packet.encode
        apid, block = self.packet.apid, self.block
        batch_sink = self.batch_sink
        while self._queue and budget > 0:
            p = self._queue[0]
            if not p.data and p.output_bytes:
                p.data = random.Random(p.job_id).randbytes(p.output_bytes)
            t_cuc = p.t_ns + self.cuc_offset_ns
            first = p.next_part
            made: list[tuple[int, int, bytes]] = []
            while p.next_part < p.parts and budget > 0:
                k = p.next_part
                chunk = p.data[k * block:(k + 1) * block]
                pkt = enc({"job_id": p.job_id, "part": k, "parts": p.parts, "octets": len(chunk),
                           "data": chunk.hex()}, self._seq, t_cuc)
                self._seq = (self._seq + 1) % 16384
                if batch_sink is None:
                    self.sink(apid, p.t_ns, pkt)
                else:
                    made.append((apid, p.t_ns, pkt))
                p.next_part += 1
                budget -= 1
                self.parts_written += 1
            if made and batch_sink is not None:
                batch_sink(made)
            whole = p.next_part == p.parts
            if whole:
                self._queue.popleft()
                self.bytes_written += p.output_bytes
            if whole or p.next_part > first:
                self.on_progress(p.job_id, p.next_part, whole)
