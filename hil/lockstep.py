"""The lockstep session between `hil serve` (the host, `hil.host`) and `hil fly` (the board, `hil.fly`), above
the link: what each end sends, in which order, and the JSON documents they exchange.

Session, after the link handshake (each side's HELLO; the board offers LOCKSTEP | POLL_PUSH)::

    host                                          board
    RADIO_STATE, DOC SETUP            ->          builds the flight software at SETUP's t_ns; its device
                                      <-          init goes out as BUS_BATCH round trips
    BUS_RESULT ...                    ->
                                      <-          DOC BOOTED
    per control tick t (one second):
    advance the emulator to t
    [RADIO_STATE if changed] [RADIO_TC ...]
    run the declared poll list, TICK  ->          runs its executive tick; polled reads come from TICK,
                                      <-          other transfers are BUS_BATCH round trips (writes too:
                                                  a write raises BusError at once on a NACK, as in SIL)
    BUS_RESULT                        ->
                                      <-          [RADIO_TM ...] [POLL_LIST if changed] TICK_DONE
    ...
    DOC END                           ->
                                      <-          DOC REPORT

Poll list. The board declares, in POLL_LIST, the groups of register reads (`RegisterBatch.read_registers`
calls) its next ticks start with: those its last tick started with, before any other bus transfer. It
declares nothing (an empty list) when that is uncertain: after a tick in which a polled read failed or a
device's health changed to or from FAILED (the poller then reads differently). Right before each TICK the
host runs the groups on the emulated buses, in order, stopping after the first group with a failed read,
and pushes the results in the TICK (BUS_RESULT batch_id = the list_id). The emulated chips draw seeded noise
on each read, so these are exactly the reads, in exactly the order, the board's poller does; the board
checks that it uses every pushed group, in order, before any other transfer, and reports a divergence
(ERROR PROTOCOL) otherwise.

Documents (DOC parts joined, UTF-8 JSON objects):

- SETUP: lockstep (the version of this session protocol, `LOCKSTEP_VERSION`), run_id (hex: a new run id is
  a new mission, the board starts on an empty store; the same one resumes the store), scenario_toml and
  scenario_source (the scenario file), seed (or null), policy, t_ns (the first tick), key (the uplink key
  file's text, or null); mode ("lockstep", the default, or "realtime") and speed (real time: simulated seconds
  per wall second). A real-time session has no TICK: after BOOTED the board ticks on its own synchronized
  clock (TIME exchanges), its transfers are BUS_BATCH_T round trips, and it sends TICK_DONE after each tick as
  figures (see `hil.fly` and docs/hil.md).
- BOOTED: t_ns (the next tick), boot (boots of this run on this board).
- END: t_end_ns.
- REPORT: what the flight software counted (see `hil.fly.Board.report`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hil.messages import BusTransfer, Doc, DocType, MessageError

__all__ = ["LOCKSTEP_VERSION", "DocAssembler", "LockstepError", "PollGroup", "doc_parts", "groups_to_transfers",
           "transfers_to_groups"]

LOCKSTEP_VERSION = 1
DOC_PART = 2048  # octets of JSON per DOC message

PollGroup = tuple[int, tuple[tuple[int, int, int], ...]]
"""One `read_registers` call: (bus, ((address, register, width), ...))."""


class LockstepError(Exception):
    """The session cannot go on; the text is one line saying what happened and what to check."""


def doc_parts(doc: DocType, obj: dict[str, Any], part: int = DOC_PART) -> list[Doc]:
    """A JSON document as DOC messages."""
    raw = json.dumps(obj, separators=(",", ":")).encode()
    chunks = [raw[i:i + part] for i in range(0, len(raw), part)] or [b""]
    return [Doc(doc, k == len(chunks) - 1, c) for k, c in enumerate(chunks)]


class DocAssembler:
    """Joins DOC parts; `add` returns (type, object) when a document is complete."""

    def __init__(self) -> None:
        self._parts: dict[DocType, list[bytes]] = {}

    def reset(self) -> None:
        self._parts.clear()

    def add(self, part: Doc) -> tuple[DocType, dict[str, Any]] | None:
        parts = self._parts.setdefault(part.doc, [])
        parts.append(part.data)
        if not part.last:
            return None
        del self._parts[part.doc]
        try:
            obj = json.loads(b"".join(parts).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise MessageError(f"DOC {part.doc.name}: not a UTF-8 JSON document") from None
        if not isinstance(obj, dict):
            raise MessageError(f"DOC {part.doc.name}: not a JSON object")
        return part.doc, obj


def groups_to_transfers(groups: Sequence[PollGroup]) -> tuple[tuple[BusTransfer, ...], ...]:
    return tuple(tuple(BusTransfer.read(addr, reg, width, 1, bus=bus) for addr, reg, width in ops)
                 for bus, ops in groups)


def transfers_to_groups(groups: Sequence[Sequence[BusTransfer]]) -> tuple[PollGroup, ...]:
    """The inverse of groups_to_transfers; MessageError for a group that is not single-word reads on one bus."""
    out = []
    for g in groups:
        if not g or any(t.bus != g[0].bus or t.count != 1 for t in g):
            raise MessageError("POLL_LIST: a group must be single-word reads on one bus")
        out.append((g[0].bus, tuple((t.address, t.register, t.width) for t in g)))
    return tuple(out)
