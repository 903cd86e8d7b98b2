"""dump_store (PUS 15,9): the ground asks again for what the store holds over a time range; the copies come
down on virtual channel 2 in the next contact, the store's own playback is unchanged, and the ground's
sequence checks see the copies as copies, not as breaks."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from emulator import load
from emulator.scenario import PlannedCommand
from flight.ccsds.deframer import Deframer
from flight.dictionary import load_dictionary
from flight.dictionary.commands import load_commands
from ground.stream import StreamDecoder
from skyrack.sil import run


def _packets_by_vc(capture: bytes) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    d = Deframer(frame_length=1115)
    for vc, pkt in d.feed(capture) + d.finish():
        out.setdefault(vc, []).append(bytes(pkt))
    return out


def test_a_dump_downlinks_copies_of_the_stored_packets(tmp_path: Path) -> None:
    # gpu-node's first contact runs from 1525 s to 1845 s; the command goes up in it and the dump comes down in it
    sc = load("gpu-node")
    plan = (PlannedCommand(1200.0, "dump_store", (("start_s", 100), ("end_s", 200))),)
    res = run(replace(sc, command_plan=plan), 2000.0, tmp_path / "dump")
    run(sc, 2000.0, tmp_path / "base")
    got = _packets_by_vc((tmp_path / "dump" / "downlink.cadu").read_bytes())
    ref = _packets_by_vc((tmp_path / "base" / "downlink.cadu").read_bytes())
    dumped = got.get(2, [])
    assert dumped, "nothing on the dump channel"
    dictionary = load_dictionary()
    times = [dictionary.decode(p).time_s for p in dumped if dictionary.decode(p).apid != 0x131]
    t0 = min(dictionary.decode(p).time_s for p in ref[1])  # mission time 0 in CUC seconds
    assert all(100 <= t - t0 < 200 for t in times)
    # every copy is byte for byte a packet the playback channel also brought down (nothing is invented)
    played = set(got[1]) | set(got.get(0, []))
    assert all(p in played for p in dumped)
    # what was made over [100, 200) s: about 100 s of 1 Hz and 10 s housekeeping
    hk = [p for p in dictionary.packets if p.period_s is not None]
    assert len(dumped) >= sum(100 if p.period_s == 1.0 else 10 for p in hk)
    # the store's own playback is what it is without the dump (the X-band pass has room for both)
    assert got[1] == ref[1]
    assert res.summary["events"].get("TC_REJECTED", 0) == 0
    # the command's reports: accepted, started, completed, then progress once the copies were all sent
    reports = Counter(dictionary.packet(p[0]).name for p in [(dictionary.decode(q).apid, q) for q in got[0] + got[1]]
                      if dictionary.packet(p[0]).name.startswith("tc_"))
    assert reports["tc_acceptance_success"] == 1 and reports["tc_completion_success"] == 1
    assert reports["tc_progress_success"] == 1
    # the ground counts no sequence break for the copies
    dec = StreamDecoder(dictionary)
    dec.feed((tmp_path / "dump" / "downlink.cadu").read_bytes())
    dec.finish()
    stats = dec.stats_json()
    assert all(a["gaps"] == 0 for a in stats["apids"].values()), stats["apids"]


def test_dump_store_is_pus_15_9() -> None:
    c = load_commands().command("dump_store")
    assert (c.service, c.subtype) == (15, 9) and [a.name for a in c.args] == ["start_s", "end_s"]
