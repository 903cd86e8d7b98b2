"""Event reports (PUS service 5): every mode transition and fault raises one.

Events are encoded with the dictionary's event packet and handed to the same
sink as housekeeping; the reporter also keeps a bounded log for the timeline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from flight.dictionary import Dictionary

PacketSink = Callable[[int, int, bytes], None]  # (apid, t_ns, packet)


@dataclass(frozen=True)
class Event:
    t_ns: int
    event_id: str
    severity: str
    param1: int
    param2: int
    text: str


class EventReporter:
    def __init__(self, dictionary: Dictionary, sink: PacketSink, cuc_offset_ns: int = 0, keep: int = 10_000) -> None:
        self.packet = dictionary.packet("event")
        self.sink = sink
        self.cuc_offset_ns = cuc_offset_ns
        self.log: deque[Event] = deque(maxlen=keep)
        self.counts: dict[str, int] = {}
        self._seq = 0
        field = self.packet.field("event_id")
        self.known = {label for _, label in field.calibration.labels}
        self._text_len = self.packet.field("text").bits // 8

    def emit(self, t_ns: int, event_id: str, severity: str = "INFO", param1: int = 0, param2: int = 0,
             text: str = "") -> Event:
        if event_id not in self.known:
            raise ValueError(f"unknown event id {event_id!r} (known: {', '.join(sorted(self.known))})")
        text = text[: self._text_len]
        ev = Event(t_ns, event_id, severity, int(param1), int(param2), text)
        pkt = self.packet.encode({"event_id": event_id, "severity": severity, "param1": ev.param1,
                                  "param2": ev.param2, "text": text}, self._seq, t_ns + self.cuc_offset_ns)
        self._seq = (self._seq + 1) % 16384
        self.log.append(ev)
        self.counts[event_id] = self.counts.get(event_id, 0) + 1
        self.sink(self.packet.apid, t_ns, pkt)
        return ev
